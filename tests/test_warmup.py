"""The format warm-up: what it imitates, that it learns it, that only trainable weights move, and the KL reference."""

import pytest

from mathrl.config import get_format, load_config
from mathrl.data.load import load_rows
from mathrl.parsing import extract_answer
from mathrl.rewards import consistency_reward
from mathrl.train.warmup import direct_text, format_warmup, warmup_text
from tests.test_train import tiny_cfg


def test_gsm8k_gold_solution_is_imitated_in_the_format():
    row = load_rows(load_config("cpu-smoke").data, "test")[0]
    text = warmup_text(row, get_format("reasoning"))
    assert text.startswith("<reasoning>") and "#### " not in text
    assert extract_answer(text, "reasoning", ("answer_tag",)).value == row["answer"]


def test_a_problem_without_a_worked_solution_restates_itself_as_the_reasoning():
    row = {"question": "Calculate 61 - 16.", "answer": "45", "solution": ""}
    text = warmup_text(row, get_format("reasoning"))
    assert text.split("</reasoning>")[0].strip() == "<reasoning>\nCalculate 61 - 16."
    assert extract_answer(text, "reasoning", ("answer_tag",)).value == "45"


def test_a_direct_answer_states_the_expression_and_its_value_in_one_line():
    row = {"question": "Calculate 61 - 16.", "answer": "45", "solution": "61 - 10 = 51\n51 - 6 = 45\n#### 45"}
    text = direct_text(row, get_format("reasoning"))
    assert text.split("</reasoning>")[0].strip() == "<reasoning>\n61 - 16 = 45"
    # as well-formed as the worked answer, so the format rewards cannot tell the two apart
    assert consistency_reward([text]) == consistency_reward([warmup_text(row, get_format("reasoning"))]) == [1.0]
    row = {"question": "Of rooms 2 + 3 and 7, how much is 4 * 5?", "answer": "20", "solution": ""}
    assert "<reasoning>\n4 * 5 = 20\n</reasoning>" in direct_text(row, get_format("reasoning"))


def test_a_direct_answer_without_an_expression_worth_the_answer_restates_the_problem():
    row = {"question": "Tom has 3 bags of 4 apples and eats 2 + 1. How many are left?", "answer": "9", "solution": ""}
    text = direct_text(row, get_format("reasoning"))
    assert text.split("</reasoning>")[0].strip() == f"<reasoning>\n{row['question']}"


def test_the_direct_share_changes_how_answers_are_written_not_which_problems(tiny_model_dir, tmp_path, monkeypatch):
    import mathrl.train.warmup

    cfg = tiny_cfg(tiny_model_dir, tmp_path)
    model, tokenizer = _model(cfg)
    rows = load_rows(cfg.data, "train")[:8]
    drawn = {}
    real_batch = mathrl.train.warmup._batch

    def spy(batch, *args):
        drawn.setdefault(share, []).extend(batch)
        return real_batch(batch, *args)

    monkeypatch.setattr(mathrl.train.warmup, "_batch", spy)
    for share in (0.0, 0.5, 1.0):
        format_warmup(model, tokenizer, rows, cfg.format, steps=4, learning_rate=1e-4, batch_size=4, direct_share=share)
    assert [row["id"] for row, _ in drawn[0.0]] == [row["id"] for row, _ in drawn[0.5]] == [row["id"] for row, _ in drawn[1.0]]
    assert [direct for _, direct in drawn[0.0]] == [False] * 16 and [direct for _, direct in drawn[1.0]] == [True] * 16
    assert 0 < sum(direct for _, direct in drawn[0.5]) < 16


def _model(cfg):
    from mathrl.models import load_model

    return load_model(cfg.model)[:2]


def test_loss_falls_on_the_rendered_solutions(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path)
    model, tokenizer = _model(cfg)
    rows = load_rows(cfg.data, "train")[:4]
    losses = format_warmup(model, tokenizer, rows, cfg.format, steps=12, learning_rate=1e-2, batch_size=4)
    assert len(losses) == 12 and losses[-1] < 0.8 * losses[0]


def test_frozen_weights_stay_put(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path)
    model, tokenizer = _model(cfg)
    frozen = model.get_input_embeddings().weight
    frozen.requires_grad_(False)
    before = frozen.detach().clone()
    trained = next(p for n, p in model.named_parameters() if "q_proj" in n)
    trained_before = trained.detach().clone()
    format_warmup(model, tokenizer, load_rows(cfg.data, "train")[:4], cfg.format, steps=2, learning_rate=1e-2,
                  batch_size=4)
    assert frozen.equal(before) and not trained.equal(trained_before)


def test_no_steps_leaves_the_model_alone(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path)
    model, tokenizer = _model(cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert format_warmup(model, tokenizer, load_rows(cfg.data, "train")[:4], cfg.format, 0, 1e-2, 4) == []
    assert all(p.equal(before[n]) for n, p in model.named_parameters())


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_the_kl_reference_is_the_warmed_model(tiny_model_dir, tmp_path, beta):
    from mathrl.train.grpo import build_trainer

    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.beta": beta, "train.format_warmup_steps": 2,
                                                "train.format_warmup_lr": 1e-2})
    trainer = build_trainer(cfg)
    initial, _ = _model(cfg)
    warmed = trainer.model.state_dict()
    assert any(not p.equal(warmed[n]) for n, p in initial.state_dict().items())  # the warm-up moved the policy
    if beta == 0.0:
        assert trainer.ref_model is None
    else:
        reference = trainer.ref_model.state_dict()
        assert all(reference[n].equal(p) for n, p in warmed.items())


def test_a_resumed_run_rebuilds_the_warmed_kl_reference(tiny_model_dir, tmp_path):
    from mathrl.train.grpo import build_trainer

    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.beta": 0.04, "train.format_warmup_steps": 2,
                                                "train.format_warmup_lr": 1e-2})
    fresh = build_trainer(cfg).ref_model.state_dict()
    resumed = build_trainer(cfg, warmup=False)  # the policy would come from the checkpoint
    initial, _ = _model(cfg)
    assert all(p.equal(initial.state_dict()[n]) for n, p in resumed.model.state_dict().items())
    assert all(p.equal(fresh[n]) for n, p in resumed.ref_model.state_dict().items())
