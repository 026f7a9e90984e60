"""mathrl: teach small instruct models grade-school math with GRPO on GSM8K, from notebooks or the command line.

The package holds the logic (config, data, models, rewards, training, evaluation, plots); the notebooks call it.
"""

__version__ = "0.1.0"
