"""Third-party notices that tell a mathrl user nothing they can act on, silenced at their source with filters that
match one message each, so every other warning and error still shows. Called before the libraries that emit them load.
"""

from __future__ import annotations

import logging
import warnings

# bitsandbytes logs this on import on CPUs with AVX512-BF16 when its optional Hub kernel is absent (always, offline);
# it concerns 4-bit matmuls only, so a run without 4-bit weights drops it.
BNB_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_KERNEL_NOTICE = "Failed to load CPU gemm_4bit_forward"
# TRL 1.16 reads transformers' deprecated `is_gradient_checkpointing` inside its own generation code; mathrl already
# sets the setting by its new name (train.grpo_args), so the FutureWarning names nothing a user could change.
CHECKPOINTING_NOTICE = r"`is_gradient_checkpointing` is deprecated"


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_third_party(four_bit: bool = False) -> None:
    """Install the filters (once per process); with `four_bit` the bitsandbytes kernel notice is kept, since it
    concerns the run."""
    warnings.filterwarnings("ignore", message=CHECKPOINTING_NOTICE, category=FutureWarning)
    logger = logging.getLogger(BNB_LOGGER)
    installed = [f for f in logger.filters if isinstance(f, _DropMessage) and f.prefix == BNB_KERNEL_NOTICE]
    if four_bit:
        for found in installed:
            logger.removeFilter(found)
    elif not installed:
        logger.addFilter(_DropMessage(BNB_KERNEL_NOTICE))
