"""Held-out accuracy while training: the validation problems, scoring like `mathrl eval`, rows exactly once across a
kill and resume, and the best checkpoint kept through rotation."""

import json

import pytest

from mathrl import stats
from mathrl.config import ConfigError, load_config
from mathrl.train import heldout
from mathrl.train.heldout import ACCURACY, curve, read_selection, score_model, validation_rows
from mathrl.train.metrics import read_metrics

from test_train import StopAfter, tiny_cfg


def _write_split(folder, split, questions):
    folder.mkdir(exist_ok=True)
    with open(folder / f"{split}.jsonl", "w") as handle:
        for i, q in enumerate(questions):
            handle.write(json.dumps({"id": f"{split}-{i}", "question": q, "answer": f"#### {i}"}) + "\n")


# --------------------------------------------------------------------------- the validation problems


@pytest.fixture
def six_problems(tmp_path):
    data = tmp_path / "data"
    _write_split(data, "train", ["What is 1 + 1?", "What is 2 + 2?", "Q5"])
    _write_split(data, "test", ["Q0", "Q1", "Q2", "Q3", "Q4", "Q5"])
    return data


def test_validation_is_the_splits_tail_outside_test_and_training(six_problems):
    cfg = load_config("cpu-smoke", overrides={"data.source": "file", "data.path": str(six_problems),
                                              "eval.limit": 2, "eval.during_training_limit": 2})
    train = [{"question": q} for q in ("What is 1 + 1?", "Q5")]  # Q5 is also a training question
    # test: Q0, Q1 (first eval.limit); Q5 is practised; the last two that are left: Q3, Q4
    assert [r["question"] for r in validation_rows(cfg, train)] == ["Q3", "Q4"]


def test_no_validation_problem_left_is_refused(six_problems):
    cfg = load_config("cpu-smoke", overrides={"data.source": "file", "data.path": str(six_problems),
                                              "eval.limit": 5, "eval.during_training_limit": 2})
    with pytest.raises(ConfigError, match="no validation problems left .*first eval.limit=5 are the test problems"):
        validation_rows(cfg, [{"question": "Q5"}])  # Q0-Q4 are test problems, Q5 is practised


@pytest.mark.parametrize("setting, message", [("eval.during_training_every=-1", "must be at least 0"),
                                              ("eval.during_training_limit=0", "must be at least 1")])
def test_bad_held_out_settings_are_refused(setting, message):
    with pytest.raises(ConfigError, match=f"{setting} {message}"):
        load_config("cpu-smoke", overrides=[setting])


# --------------------------------------------------------------------------- scoring like mathrl eval


def test_the_model_in_memory_is_scored_as_mathrl_eval_scores_it_from_disk(tiny_model_dir, tmp_path):
    from mathrl.config import ModelConfig
    from mathrl.eval.evaluate import evaluate, read_records
    from mathrl.models import load_model

    cfg = load_config("cpu-smoke", overrides={"model.name": str(tiny_model_dir), "eval.max_new_tokens": 8,
                                              "eval.num_samples": 3})  # scoring in training is greedy whatever this
    rows = validation_rows(cfg, [])
    model, tokenizer, _ = load_model(ModelConfig(name=str(tiny_model_dir)))
    model.train()
    in_memory = score_model(model, tokenizer, rows, cfg, tmp_path / "memory")
    assert model.training  # handed back to the trainer in training mode
    cfg.eval.num_samples = 1
    from_disk = evaluate(cfg, str(tiny_model_dir), tmp_path / "disk", rows, progress=False)
    assert in_memory["accuracy"] == from_disk["accuracy"]
    memory, disk = (read_records(tmp_path / name / "records.jsonl") for name in ("memory", "disk"))
    assert [memory[r["id"]]["completion"] for r in rows] == [disk[r["id"]]["completion"] for r in rows]
    assert "samples" not in memory[rows[0]["id"]]


def test_values_carry_the_headline_accuracy_and_its_wilson_interval():
    summary = {"headline": {"accuracy": 3 / 8, "ci95": list(stats.wilson_interval(3, 8)), "correct": 3, "n": 8},
               "format_compliance": {"sections_in_order": 0.5}}
    values = heldout.heldout_values(summary)
    # Wilson 95% interval of 3/8, worked by hand: centre (3 + 1.92) / 11.84, half-width 1.96 sqrt(3*5/8 + 0.96) / 11.84
    assert values[ACCURACY] == 0.375
    assert values["heldout/accuracy_low"] == pytest.approx(0.1368, abs=1e-3)
    assert values["heldout/accuracy_high"] == pytest.approx(0.6942, abs=1e-3)
    assert (values["heldout/correct"], values["heldout/n"]) == (3, 8)


# --------------------------------------------------------------------------- training: exactly once, best kept


class Scripted:
    """Stands in for score_model: the accuracy it reports at each step, and the steps it was asked to score."""

    def __init__(self, by_step):
        self.by_step, self.steps = by_step, []

    def __call__(self, model, tokenizer, rows, cfg, out):
        step = int(str(out).rsplit("step-", 1)[-1])
        self.steps.append(step)
        right = round(self.by_step[step] * len(rows))
        return {"headline": {"accuracy": right / len(rows), "ci95": list(stats.wilson_interval(right, len(rows))),
                             "correct": right, "n": len(rows)}, "format_compliance": {"sections_in_order": 0.0}}


def heldout_cfg(model_dir, out, **extra):
    return tiny_cfg(model_dir, out, **{"train.max_steps": 3, "train.save_steps": 2, "train.save_total_limit": 1,
                                       "eval.during_training_every": 1, "eval.during_training_limit": 4, **extra})


@pytest.mark.slow
def test_each_evaluation_is_logged_exactly_once_across_kills_and_the_best_is_kept(tiny_model_dir, tmp_path,
                                                                                  monkeypatch):
    from mathrl.eval.evaluate import eval_rows
    from mathrl.train.grpo import train

    # the start and steps 1-3 on four problems; step 3 ties step 1's best (2/4) and must not replace it
    scripted = Scripted({0: 0.25, 1: 0.5, 2: 0.25, 3: 0.5})
    monkeypatch.setattr(heldout, "score_model", scripted)
    cfg = heldout_cfg(tiny_model_dir, tmp_path)
    with pytest.raises(SystemExit):  # killed after step 1 was logged, before any checkpoint
        train(cfg, callbacks=(StopAfter(1).callback,))
    with pytest.raises(SystemExit):  # a fresh start again (the start is not scored twice), killed after step 3
        train(heldout_cfg(tiny_model_dir, tmp_path), callbacks=(StopAfter(3).callback,))
    result = train(heldout_cfg(tiny_model_dir, tmp_path))  # resumes from checkpoint-2: step 3 again

    assert result.resumed_from.name == "checkpoint-2"
    assert scripted.steps == [0, 1, 1, 2, 3, 3]
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows if ACCURACY in r] == [0, 1, 2, 3]  # each once: none lost, none twice
    assert [r["step"] for r in rows if "reward" in r] == [1, 2, 3]
    assert not any(k.startswith(heldout.BEFORE_WARMUP) for r in rows for k in r)  # no warm-up, nothing before it
    assert [p["accuracy"] for p in curve(tmp_path)] == [0.25, 0.5, 0.25, 0.5]
    # rotation (save_total_limit=1) kept the best step's checkpoint beside the newest
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-3"]
    chosen = read_selection(tmp_path)
    assert chosen["best"]["step"] == 1 and chosen["best"]["accuracy"] == 0.5 and chosen["last_step"] == 3
    assert "best on validation: step 1 (50.0%, 2/4, the last step 50.0%), kept as checkpoint-1" in chosen["why"]
    ids = json.loads((tmp_path / "validation.json").read_text())["ids"]
    assert len(ids) == 4 and not set(ids) & {r["id"] for r in eval_rows(cfg)}


class ScriptedByFolder:
    """Stands in for score_model: 0/4 before the format warm-up, 2/4 at every step; notes each folder it scored into
    and a fingerprint of the weights it was handed."""

    def __init__(self):
        self.folders, self.weights = [], {}

    def __call__(self, model, tokenizer, rows, cfg, out):
        self.folders.append(out.name)
        self.weights.setdefault(out.name, _fingerprint(model))
        right = 0 if out.name == "before-warmup" else 2
        return {"headline": {"accuracy": right / len(rows), "ci95": list(stats.wilson_interval(right, len(rows))),
                             "correct": right, "n": len(rows)}, "format_compliance": {"sections_in_order": 0.0}}


def _fingerprint(model):
    return sum(float(p.detach().double().abs().sum()) for p in model.parameters())


@pytest.mark.slow
def test_the_model_before_the_format_warm_up_is_in_the_step_0_row_once_across_kills(tiny_model_dir, tmp_path,
                                                                                       monkeypatch):
    from transformers import AutoModelForCausalLM

    from mathrl.train.grpo import train
    from mathrl.train.heldout import BEFORE_WARMUP, before_warmup

    scripted = ScriptedByFolder()
    monkeypatch.setattr(heldout, "score_model", scripted)
    cfg = lambda: heldout_cfg(tiny_model_dir, tmp_path, **{"train.format_warmup_steps": 2,  # noqa: E731
                                                             "train.format_warmup_lr": 1e-3})  # weights must move
    with pytest.raises(SystemExit):  # killed after step 1, before any checkpoint
        train(cfg(), callbacks=(StopAfter(1).callback,))
    with pytest.raises(SystemExit):  # a fresh start warms up again, killed after step 3
        train(cfg(), callbacks=(StopAfter(3).callback,))
    result = train(cfg())  # resumes from checkpoint-2: no warm-up

    assert result.resumed_from.name == "checkpoint-2"
    assert scripted.folders.count("before-warmup") == 1  # the restart that warmed up again did not score it again
    rows = read_metrics(tmp_path)
    marked = [r for r in rows if BEFORE_WARMUP + "accuracy" in r]
    assert [r["step"] for r in marked] == [0] and ACCURACY in marked[0]  # one row: step 0, beside the warmed score
    assert (marked[0][BEFORE_WARMUP + "accuracy"], marked[0][ACCURACY]) == (0.0, 0.5)
    assert before_warmup(tmp_path) == {"accuracy": 0.0, "ci95": pytest.approx([0.0, 0.49], abs=0.01), "correct": 0,
                                       "n": 4}
    # scored before the warm-up trained the weights: the base model's, not those the step-0 score saw
    base = _fingerprint(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    assert scripted.weights["before-warmup"] == pytest.approx(base)
    assert scripted.weights["step-0"] != pytest.approx(base)


def _logged(folder, accuracies):
    from mathrl.train.metrics import METRICS_FILE, append_jsonl

    for step, accuracy in accuracies.items():
        append_jsonl(folder / METRICS_FILE, {"step": step, **heldout.heldout_values(
            Scripted({step: accuracy})(None, None, [0] * 4, None, f"step-{step}"))})


@pytest.mark.parametrize("overrides, best, why", [
    ({"eval.during_training_every": 0}, None, "final/ is the last step (3); no held-out evaluation ran"),
    ({"train.keep_best": False}, None, "final/ is the last step (3); no best checkpoint kept"),
    ({}, 2, "best on validation: step 2 (75.0%, 3/4, the last step 25.0%), kept as checkpoint-2"),
])
def test_final_says_which_step_and_why(tmp_path, overrides, best, why):
    from types import SimpleNamespace

    cfg = load_config("cpu-smoke", overrides={"train.output_dir": str(tmp_path), **overrides})
    if cfg.eval.during_training_every:
        _logged(tmp_path, {0: 0.5, 1: 0.25, 2: 0.75, 3: 0.25})
    (tmp_path / "checkpoint-2").mkdir()
    heldout.write_selection(SimpleNamespace(best_global_step=2), cfg, tmp_path / "final", 3)
    chosen = read_selection(tmp_path)
    assert (chosen["best"] or {}).get("step") == best and chosen["why"].startswith(why)
    assert chosen["evaluations"] == (4 if cfg.eval.during_training_every else 0)  # what notebook 04 reads
