"""mathrl: teach small instruct models grade-school math with GRPO on GSM8K, from notebooks or the command line.

Layers, bottom first (tests/test_layers.py): the modules here with data/, then eval/, train/, report/, cli/.
"""

from mathrl.notices import quiet_third_party

__version__ = "0.1.0"

# Any mathrl module may bring in transformers' trainer, which loads peft and bitsandbytes, whose notice is logged once at
# import: the filter has to be in place before the first of them, wherever a notebook starts.
quiet_third_party()
