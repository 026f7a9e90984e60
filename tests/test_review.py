"""Notebook 04's report of the checkpoint chosen on validation: base vs best vs last on test problems, with McNemar."""

import json

import pytest

from mathrl.config import MathrlError, load_config
from mathrl.eval.evaluate import eval_rows, evaluate
from mathrl.generation import Completion, prompt_texts
from mathrl.report.review import best_and_last, best_and_last_text
from mathrl.train.heldout import SELECTION_FILE, VALIDATION_FILE

RIGHT = {"base": {0, 1}, "best": set(range(8)), "trained": {0, 2, 3}}  # test problems each model gets right


def scripted(rows, tokenizer, right):
    """A generate function answering each prompt's gold answer when its row index is in `right`, else 999999."""
    index = {text: i for i, text in enumerate(prompt_texts(rows, tokenizer))}

    def generate(prompts, samples, temperature):
        return [[Completion(f"<reasoning>so</reasoning>\n<answer>{rows[index[p]]['answer'] if index[p] in right else 999999}"
                            "</answer>", 9, False)] for p in prompts]

    return generate


@pytest.fixture
def run(tmp_path, offline_model_dir):
    """A trained run's folder (best kept at step 2 of 4), and records of base, best and last on 10 test problems."""
    from transformers import AutoTokenizer

    cfg = load_config("cpu-smoke", overrides={"eval.limit": 10, "eval.out": str(tmp_path / "eval")})
    rows, tokenizer = eval_rows(cfg), AutoTokenizer.from_pretrained(offline_model_dir)
    train = tmp_path / "train"
    (train / "final").mkdir(parents=True)
    (train / "checkpoint-2").mkdir()
    models = {"base": "base-model", "best": str(train / "checkpoint-2"), "trained": str(train / "final")}
    for folder, model in models.items():
        evaluate(cfg, model, tmp_path / "eval" / folder, rows, generator=(scripted(rows, tokenizer, RIGHT[folder]),
                                                                           tokenizer), progress=False)
    (train / "final" / SELECTION_FILE).write_text(json.dumps({
        "last_step": 4, "evaluations": 5, "why": "best on validation: step 2", "best": {
            "step": 2, "checkpoint": "/elsewhere/checkpoint-2", "accuracy": 0.75, "ci95": [0.3, 0.95], "correct": 3,
            "n": 4}}))
    (train / VALIDATION_FILE).write_text(json.dumps({"ids": ["gsm8k-test-1318"]}))
    return cfg, train


def test_base_best_and_last_are_compared_on_the_test_problems(run):
    cfg, train = run
    result = best_and_last(cfg, "base-model", train)  # every record is on disk: no model loads
    assert {name: a["correct"] for name, a in result["accuracy"].items()} == {"base": 2, "last": 3, "best": 8}
    pairs = result["pairs"]
    # best fixes problems 2-7 and breaks none: exact two-sided binomial p = 2 / 2**6
    assert (pairs["best vs base"]["fixed_count"], pairs["best vs base"]["broken_count"]) == (6, 0)
    assert pairs["best vs base"]["difference"] == pytest.approx(0.6)
    assert pairs["best vs base"]["mcnemar"]["p_value"] == pytest.approx(2 / 2**6)
    # last fixes 2 and 3, breaks 1: p = 2 * P(X <= 1 | n = 3) capped at 1
    assert (pairs["last vs base"]["fixed_count"], pairs["last vs base"]["broken_count"]) == (2, 1)
    assert pairs["last vs base"]["mcnemar"]["p_value"] == 1.0
    # best over last: 1, 4, 5, 6, 7 -> p = 2 / 2**5
    assert pairs["best vs last"]["difference"] == pytest.approx(0.5)
    assert pairs["best vs last"]["mcnemar"]["p_value"] == pytest.approx(2 / 2**5)
    text = best_and_last_text(result)
    assert "best (step 2, 75.0% on 4 validation problems)" in text and "best vs base  +60.0%" in text
    assert result["headline"] == {"best_step": 2, "accuracy_best": 0.8, "accuracy_last": 0.3,
                                  "mcnemar_p_best_vs_base": pytest.approx(2 / 2**6)}


def test_the_last_step_reuses_compares_records(run):
    """compare() scored final/ into eval/trained; the report reads those records instead of generating again."""
    cfg, train = run
    records = train.parent / "eval" / "trained" / "records.jsonl"
    before = records.read_text()
    best_and_last(cfg, "base-model", train)  # final/ is an empty folder: generating would fail to load it
    assert records.read_text() == before


def test_test_problems_that_chose_the_checkpoint_are_refused(run):
    cfg, train = run
    (train / VALIDATION_FILE).write_text(json.dumps({"ids": ["gsm8k-test-3", "gsm8k-test-900"]}))
    with pytest.raises(MathrlError, match="1 of the 10 test problems chose the best checkpoint.*biased"):
        best_and_last(cfg, "base-model", train)


def test_a_run_without_a_best_reports_base_and_last(run):
    cfg, train = run
    (train / "final" / SELECTION_FILE).write_text(json.dumps({"last_step": 4, "best": None, "evaluations": 5,
                                                              "why": "final/ is the last step (4); no best kept"}))
    result = best_and_last(cfg, "base-model", train)
    assert list(result["pairs"]) == ["last vs base"]
    assert "no best checkpoint: final/ is the last step (4)" in best_and_last_text(result)
    assert result["headline"]["best_step"] is None and result["headline"]["accuracy_last"] == 0.3


@pytest.mark.parametrize("selection, why", [
    # held-out scoring off (eval.during_training_every=0): training still writes selection.json, with no evaluations
    ({"last_step": 4, "best": None, "evaluations": 0,
      "why": "final/ is the last step (4); no held-out evaluation ran (eval.during_training_every=0)"},
     "no held-out evaluation ran (eval.during_training_every=0)"),
    (None, "selection.json: the run predates held-out evaluation"),  # a run from before, or not mathrl's
])
def test_a_run_that_chose_nothing_is_one_line_not_an_error(run, selection, why):
    cfg, train = run
    path = train / "final" / SELECTION_FILE
    if selection:
        path.write_text(json.dumps(selection))
    else:
        path.unlink()
    result = best_and_last(cfg, "base-model", train)
    text = best_and_last_text(result)
    assert text.startswith("no checkpoint was chosen on validation problems") and why in text and "\n" not in text
    assert result["headline"] == {"best_step": None, "accuracy_best": None}


def test_checkpoints_lists_mathrls_by_step_and_names_a_users_folder(tmp_path):
    """A user's checkpoint-best beside mathrl's own folders is named as left alone, not read as a step number."""
    from mathrl.report.review import checkpoints
    from mathrl.train.grpo import STARTED_MARKER

    for name in ("checkpoint-10", "checkpoint-2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / STARTED_MARKER).write_text("")
    (tmp_path / "checkpoint-best").mkdir()
    (tmp_path / "checkpoint-best" / "notes.txt").write_text("my pick")
    cfg = load_config("cpu-smoke")
    cfg.train.output_dir = str(tmp_path)
    assert checkpoints(cfg).splitlines() == [
        "checkpoint-2 (incomplete), checkpoint-10 (incomplete)",
        "left alone, not written by mathrl: checkpoint-best",
        "a re-run resumes from step 0",
    ]
    assert (tmp_path / "checkpoint-best" / "notes.txt").read_text() == "my pick"
