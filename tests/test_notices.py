"""Third-party notices: each filter drops its one message and nothing else from the same source."""

import logging
import warnings

from mathrl.notices import BNB_LOGGER, quiet_third_party

BNB_NOTICE = ("Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you already "
              "`pip install kernels` and the kernels >= 0.11.1")  # bitsandbytes 0.50's text, word for word


def _bnb_messages(caplog, four_bit):
    quiet_third_party(four_bit=four_bit)
    caplog.clear()
    logger = logging.getLogger(BNB_LOGGER)
    logger.warning(BNB_NOTICE, "no network")
    logger.warning("CPU kernel for gemv_4bit raised an error")  # any other bitsandbytes warning must still show
    return [record.getMessage() for record in caplog.records]


def test_the_bitsandbytes_kernel_notice_is_dropped_without_4bit_and_nothing_else(caplog):
    caplog.set_level(logging.WARNING)
    assert _bnb_messages(caplog, four_bit=False) == ["CPU kernel for gemv_4bit raised an error"]
    assert len(_bnb_messages(caplog, four_bit=True)) == 2  # a 4-bit run is told its fast kernel is missing
    assert len(_bnb_messages(caplog, four_bit=False)) == 1  # and the filter comes back for the next run


def test_transformers_checkpointing_future_warning_is_dropped_and_other_future_warnings_kept():
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))  # the smallest Llama
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.is_gradient_checkpointing  # what TRL 1.16 reads during generation  # noqa: B018
        assert [w.category for w in caught] == [FutureWarning]  # the real notice, emitted by transformers
        quiet_third_party()
        caught.clear()
        model.is_gradient_checkpointing  # noqa: B018
        warnings.warn("a different deprecation", FutureWarning)
    assert [str(w.message) for w in caught] == ["a different deprecation"]
