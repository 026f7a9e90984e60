"""The GRPO builder: checks before the model loads, TRL arguments, kill-and-resume, LoRA, two CPU processes, launch."""

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from mathrl.cli import commands
from mathrl.config import ConfigError, MathrlError, load_config
from mathrl.models import choose_precision
from mathrl.train.grpo import (
    COMPLETE_MARKER, CONFIG_FILE, STARTED_MARKER, checkpoint_step, find_checkpoint, grpo_args, is_complete,
    mark_complete, preflight, push_final, checkpoint_problem, remove_stale, rotate_checkpoints, save_config, train,
)
from mathrl.train.launch import launch_command, launch_training, stream
from mathrl.train.metrics import read_metrics, read_samples

ROOT = Path(__file__).resolve().parent.parent


def tiny_cfg(model_dir, output_dir, **extra):
    """cpu-smoke on the tiny random model, shrunk until a step takes about a second."""
    overrides = {
        "model.name": str(model_dir),
        "train.output_dir": str(output_dir),
        "data.limit": 16,  # reduce time
        "train.max_steps": 3,
        "train.per_device_train_batch_size": 4,
        "train.num_generations": 4,
        "train.max_completion_length": 8,  # reduce time
        "train.save_steps": 2,
        "train.save_total_limit": 2,
        "train.sample_every": 1,
        "train.live_plot": "off",
        "eval.during_training_every": 0,  # held-out scoring has its own tests (test_heldout.py)
    }
    return load_config("cpu-smoke", overrides={**overrides, **extra})


# --------------------------------------------------------------------------- bad input fails before the model loads


@pytest.fixture
def no_model_load(monkeypatch):
    """Any attempt to load a model fails the test: these errors must come first."""
    import mathrl.models

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was reported")

    monkeypatch.setattr(mathrl.models, "load_model", refuse)


def test_context_overflow_is_reported(tiny_model_dir, tmp_path, no_model_load):
    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.max_completion_length": 2000})  # the tiny model has 2048
    with pytest.raises(ConfigError, match="exceeds .* context of 2048 tokens; lower one"):
        train(cfg)


def test_output_dir_of_another_run_is_refused(tiny_model_dir, offline_model_dir, tmp_path, no_model_load):
    save_config(tiny_cfg(offline_model_dir, tmp_path))
    with pytest.raises(ConfigError, match="holds another run .*model.name.*new --output-dir"):
        train(tiny_cfg(tiny_model_dir, tmp_path))
    save_config(tiny_cfg(tiny_model_dir, tmp_path, **{"data.format": "think"}))
    with pytest.raises(ConfigError, match="data.format: 'think' -> 'reasoning'"):
        train(tiny_cfg(tiny_model_dir, tmp_path))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_profile_without_gpu(tiny_model_dir, tmp_path, no_model_load):
    with pytest.raises(MathrlError, match="needs a CUDA GPU .*Runtime > Change runtime type"):
        train(tiny_cfg(tiny_model_dir, tmp_path, **{"train.require_gpu": True}))


@pytest.mark.skipif(__import__("importlib").util.find_spec("vllm") is not None, reason="vllm is installed")
def test_missing_vllm_is_named(tiny_model_dir, tmp_path, no_model_load):
    with pytest.raises(MathrlError, match="pip install vllm"):
        train(tiny_cfg(tiny_model_dir, tmp_path, **{"train.use_vllm": True}))


@pytest.mark.parametrize("overrides, message", [
    # 4 prompts x ... : a batch of 6 cannot hold whole groups of 4
    ({"train.per_device_train_batch_size": 6}, "must divide the completions"),
    # a reward name that is not in the registry
    ({"rewards.weights.brevity_reward": 1.0}, "unknown reward.*brevity_reward"),
])
def test_config_errors(tiny_model_dir, tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny_cfg(tiny_model_dir, tmp_path, **overrides)


def test_cli_reports_a_bad_setting_in_one_line(tmp_path, capsys):
    code = commands.main(["train", "--profile", "cpu-smoke", "--output-dir", str(tmp_path), "--set",
                     "rewards.weights.nope=1"])
    assert code == 2 and capsys.readouterr().err.startswith("error: unknown reward")


# --------------------------------------------------------------------------- TRL arguments


def test_grpo_args_follow_the_config(tiny_model_dir, tmp_path):
    import torch

    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.static_cache": True, "train.steps_per_generation": 2,
                                                "rewards.weights": {"correctness_reward": 2.0, "number_reward": 0.0}})
    args = grpo_args(cfg, choose_precision("float32"))
    assert (args.bf16, args.fp16) == (False, False)  # explicit: TRL's default bf16=True fails on a T4
    assert args.reward_weights == [2.0, 0.0]
    assert (args.num_generations, args.max_completion_length, args.steps_per_generation) == (4, 8, 2)
    assert (args.save_steps, args.loss_type, args.beta) == (2, "dapo", 0.0)
    assert args.save_total_limit is None  # mathrl rotates: transformers' rotation deletes folders it did not write
    # static cache + compile only on CUDA; the same test runs on the GPU profiles' machines
    assert args.cache_implementation == ("static" if torch.cuda.is_available() else None)
    assert args.report_to == [] and not args.log_completions


@pytest.mark.parametrize("checkpointing", [True, False])
def test_checkpointing_reaches_trl_without_a_deprecation_warning(tiny_model_dir, tmp_path, checkpointing):
    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.gradient_checkpointing": checkpointing})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        args = grpo_args(cfg, choose_precision("float32"))
    assert args.gradient_checkpointing is checkpointing  # the name TRL's trainer reads
    assert not [w for w in caught if "gradient_checkpointing" in str(w.message)]


# --------------------------------------------------------------------------- the Hub


class FakeHub:
    """Stands in for huggingface_hub.HfApi: records what would be uploaded, or fails like a machine offline."""

    uploads: list = []
    offline = False

    def create_repo(self, repo_id, exist_ok=False):
        return SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"someone/{repo_id}")

    def upload_folder(self, repo_id, folder_path, commit_message):
        if self.offline:
            raise OSError("no route to huggingface.co")
        self.uploads.append((repo_id, sorted(p.name for p in Path(folder_path).iterdir())))


@pytest.fixture
def fake_hub(monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHub)
    monkeypatch.setattr(FakeHub, "uploads", [])
    return FakeHub


def test_push_uploads_the_final_folder_under_the_output_dirs_name(tiny_model_dir, tmp_path, fake_hub):
    cfg = tiny_cfg(tiny_model_dir, tmp_path / "my-run", **{"train.push_to_hub": True})
    final = tmp_path / "my-run" / "final"
    (final / "adapter").mkdir(parents=True)
    (final / "model.safetensors").write_text("")
    assert push_final(final, cfg) == "someone/my-run"
    assert fake_hub.uploads == [("someone/my-run", ["adapter", "model.safetensors"])]
    assert not grpo_args(cfg, choose_precision("float32")).push_to_hub  # the trainer's push at every save stays off


def test_a_failed_push_says_how_to_retry_and_keeps_the_model(tiny_model_dir, tmp_path, fake_hub, monkeypatch):
    monkeypatch.setattr(FakeHub, "offline", True)
    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.push_to_hub": True, "train.hub_model_id": "me/gsm8k-grpo"})
    final = tmp_path / "final"
    final.mkdir()
    (final / "model.safetensors").write_text("weights")
    with pytest.raises(MathrlError, match=r"'me/gsm8k-grpo' failed \(OSError: no route.*hf upload me/gsm8k-grpo "):
        push_final(final, cfg)
    assert (final / "model.safetensors").read_text() == "weights"


# --------------------------------------------------------------------------- checkpoints and resume


def fake_checkpoint(folder, step, marker=COMPLETE_MARKER, weights=True, exist_ok=False):
    """A checkpoint-`step` folder as the Trainer leaves it: state and a readable safetensors file, plus `marker`."""
    from safetensors.torch import save_file
    import torch

    checkpoint = folder / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True, exist_ok=exist_ok)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if weights:
        save_file({"w": torch.full((64,), float(step))}, checkpoint / "model.safetensors")
    if marker == COMPLETE_MARKER:
        mark_complete(checkpoint, step)
    elif marker:
        (checkpoint / marker).write_text(str(step))
    return checkpoint


def snapshot(folder):
    """Every file under folder with its bytes' digest: what "left alone" means, byte for byte."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_half_written_checkpoints_are_never_picked(tmp_path):
    fake_checkpoint(tmp_path, 2)
    fake_checkpoint(tmp_path, 4, marker=STARTED_MARKER)  # killed before the marker
    (fake_checkpoint(tmp_path, 6) / "trainer_state.json").unlink()  # no trainer state
    fake_checkpoint(tmp_path, 8, marker=None)  # a plain TRL run's checkpoint: not mathrl's to resume
    best = fake_checkpoint(tmp_path, 10)
    best.rename(tmp_path / "checkpoint-best")  # a user's copy of a complete checkpoint: not a step number
    skipped = []
    assert find_checkpoint(tmp_path, skipped).name == "checkpoint-2"
    # only the complete-marked one is reported as damaged; unfinished and foreign folders are passed over
    assert [folder.name for folder, _ in skipped] == ["checkpoint-6"]
    assert find_checkpoint(tmp_path / "missing") is None


@pytest.mark.parametrize("damage, problem", [
    # cut off mid-write: the header names bytes the file no longer holds
    (lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:-40]),
     "model.safetensors: .* bytes, .* were written"),
    # same size, garbage header: only reading the header finds it
    (lambda c: (c / "model.safetensors").write_bytes(b"x" * (c / "model.safetensors").stat().st_size),
     "model.safetensors is damaged"),
    # a file the save wrote is gone
    (lambda c: (c / "trainer_state.json").unlink(), "^trainer_state.json, weights or the completion marker missing$"),
    # a file only the marker knows of (the optimizer state, say) is gone
    (lambda c: (c / "optimizer.pt").unlink(), r"^optimizer.pt: missing, 11 were written$"),
    # the trainer state is not JSON
    (lambda c: (c / "trainer_state.json").write_text("{"), r"^unreadable trainer state or marker \(JSONDecodeError\)$"),
])
def test_a_damaged_complete_checkpoint_is_skipped_for_the_previous_one(tmp_path, damage, problem):
    fake_checkpoint(tmp_path, 2)
    damaged = tmp_path / "checkpoint-4"
    damaged.mkdir()
    (damaged / "optimizer.pt").write_bytes(b"x" * 11)  # written before the marker, so its size is recorded
    fake_checkpoint(tmp_path, 4, exist_ok=True)
    damage(damaged)
    skipped = []
    assert find_checkpoint(tmp_path, skipped).name == "checkpoint-2"
    assert [folder.name for folder, _ in skipped] == ["checkpoint-4"]
    assert __import__("re").search(problem, skipped[0][1])


def test_rotation_deletes_only_mathrls_complete_checkpoints(tmp_path):
    for step in (1, 2, 3):
        fake_checkpoint(tmp_path, step)
    foreign = fake_checkpoint(tmp_path, 0, marker=None)  # oldest by step: first in line for transformers' rotation
    (tmp_path / "checkpoint-best").mkdir()
    (tmp_path / "checkpoint-best" / "notes.txt").write_text("my best run")
    before = snapshot(tmp_path)
    assert rotate_checkpoints(tmp_path, 1, keep=tmp_path / "checkpoint-2") == ["checkpoint-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-0", "checkpoint-2", "checkpoint-3",
                                                          "checkpoint-best"]
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(("checkpoint-2", "checkpoint-3"))} == {
        k: v for k, v in before.items() if k.startswith((foreign.name, "checkpoint-best"))}


def test_only_mathrls_unfinished_or_damaged_checkpoints_are_removed(tmp_path):
    fake_checkpoint(tmp_path, 2)
    fake_checkpoint(tmp_path, 3, marker=STARTED_MARKER)  # mathrl's, killed mid-save
    (fake_checkpoint(tmp_path, 4) / "model.safetensors").write_bytes(b"")  # mathrl's, damaged, past the resume step
    fake_checkpoint(tmp_path, 5, marker=None)  # looks just as half-written, but mathrl never marked it
    before = snapshot(tmp_path / "checkpoint-5")
    assert remove_stale(tmp_path, 2) == ["checkpoint-3", "checkpoint-4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-5"]
    assert snapshot(tmp_path / "checkpoint-5") == before


def test_rotation_orders_by_step_number_and_keeps_the_newest_limit(tmp_path):
    for step in (9, 10, 11, 12):
        fake_checkpoint(tmp_path, step)
    # by name, checkpoint-9 sorts last: it would pass for the newest and checkpoint-10 would go instead
    assert rotate_checkpoints(tmp_path, 2) == ["checkpoint-9", "checkpoint-10"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-11", "checkpoint-12"]


@pytest.mark.parametrize("limit", [None, 0, -1])
def test_rotation_without_a_positive_limit_deletes_nothing(tmp_path, limit):
    for step in (1, 2, 3):
        fake_checkpoint(tmp_path, step)
    assert rotate_checkpoints(tmp_path, limit) == []
    assert len(list(tmp_path.iterdir())) == 3


def test_rotation_of_an_empty_output_dir_deletes_nothing(tmp_path):
    assert rotate_checkpoints(tmp_path, 1, keep=None) == []


def test_a_half_written_checkpoint_before_the_resume_step_is_removed_and_damaged_ones_up_to_it_kept(tmp_path):
    fake_checkpoint(tmp_path, 1, marker=STARTED_MARKER)  # an older run's save, killed midway
    (fake_checkpoint(tmp_path, 2) / "model.safetensors").write_bytes(b"")  # damaged, but not a step replayed
    (fake_checkpoint(tmp_path, 3) / "model.safetensors").write_bytes(b"")
    fake_checkpoint(tmp_path, 4)
    fake_checkpoint(tmp_path, 6)  # healthy past the resume step: the rerun saves it again itself
    assert remove_stale(tmp_path, 3) == ["checkpoint-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-3", "checkpoint-4",
                                                          "checkpoint-6"]


def test_removal_passes_over_every_folder_that_is_not_mathrls(tmp_path):
    # many foreign folders, so that some come before mathrl's in the directory's order whatever it is
    for step in range(100, 120):
        fake_checkpoint(tmp_path, step, marker=None, weights=False)
    fake_checkpoint(tmp_path, 1, marker=STARTED_MARKER)
    fake_checkpoint(tmp_path, 2, marker=STARTED_MARKER)
    fake_checkpoint(tmp_path, 3, marker=STARTED_MARKER).rename(tmp_path / "checkpoint-best")  # not a step number
    assert remove_stale(tmp_path, 0) == ["checkpoint-1", "checkpoint-2"]
    assert (tmp_path / "checkpoint-best" / STARTED_MARKER).is_file() and len(list(tmp_path.iterdir())) == 21


def test_the_resume_step_is_the_trainer_states_and_zero_for_a_fresh_start(tmp_path):
    checkpoint = fake_checkpoint(tmp_path, 7)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 6, "best_metric": None}))
    assert checkpoint_step(checkpoint) == 6  # the state's step, not the folder's name
    assert checkpoint_step(None) == 0


@pytest.mark.parametrize("marker", ["3", '{"step": 3}'], ids=["step only", "no file sizes"])
def test_an_older_marker_without_file_sizes_still_resumes(tmp_path, marker):
    checkpoint = fake_checkpoint(tmp_path, 3)
    (checkpoint / COMPLETE_MARKER).write_text(marker)
    assert checkpoint_problem(checkpoint) is None
    assert find_checkpoint(tmp_path) == checkpoint


def foreign_and_stale(out):
    """An output dir a user might point a run at: a plain TRL run's checkpoint-500, their own checkpoint-best, and a
    checkpoint mathrl started and never finished."""
    fake_checkpoint(out, 500, marker=None)
    (out / "checkpoint-best").mkdir()
    (out / "checkpoint-best" / "notes.txt").write_text("keep me")
    return fake_checkpoint(out, 1, marker=STARTED_MARKER, weights=False)


def test_a_failing_check_leaves_the_output_dir_untouched(tiny_model_dir, tmp_path, no_model_load):
    out = tmp_path / "run"
    save_config(tiny_cfg(tiny_model_dir, out))
    foreign_and_stale(out)
    (out / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n')  # truncated to the resume step by a real run
    before = snapshot(out)
    with pytest.raises(MathrlError, match="no-such-data: no such file or folder"):
        train(tiny_cfg(tiny_model_dir, out, **{"data.path": str(tmp_path / "no-such-data")}))
    assert snapshot(out) == before


@pytest.mark.parametrize("in_the_way", ["checkpoint-2", "metrics.jsonl", "final"])
def test_a_run_that_would_overwrite_foreign_files_is_refused(tiny_model_dir, tmp_path, no_model_load, in_the_way):
    # checkpoint-2: a step this run saves (save_steps 2); the others: mathrl's own names, in a dir it never ran in
    if in_the_way == "checkpoint-2":
        fake_checkpoint(tmp_path, 2, marker=None)
    elif in_the_way == "final":
        (tmp_path / "final").mkdir()
        (tmp_path / "final" / "model.safetensors").write_text("someone's model")
    else:
        (tmp_path / in_the_way).write_text("someone's log\n")
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=f"holds {in_the_way}, not written by mathrl.*move them away"):
        train(tiny_cfg(tiny_model_dir, tmp_path))
    assert snapshot(tmp_path) == before


def test_a_finished_run_rerun_with_its_target_changes_nothing(tiny_model_dir, tmp_path, no_model_load, capsys):
    cfg = tiny_cfg(tiny_model_dir, tmp_path, **{"train.max_steps": 2})
    save_config(cfg)
    fake_checkpoint(tmp_path, 2)
    (tmp_path / "final").mkdir()
    mark_complete(tmp_path / "final", 2)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert commands.main(["train", "--config", str(tmp_path / CONFIG_FILE), "--max-steps", "2"]) == 0
    assert "already finished at step 2" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


@pytest.mark.parametrize("problem, message", [
    ("file", "is a file, not a folder"),
    ("broken config", "not a readable mathrl config"),
    ("list config", "not a mathrl config .*list"),
])
def test_unusable_output_dirs_are_refused(tiny_model_dir, tmp_path, no_model_load, problem, message):
    out = tmp_path / "run"
    if problem == "file":
        out.write_text("not a folder")
    else:
        out.mkdir()
        (out / CONFIG_FILE).write_text("model: [unclosed" if problem == "broken config" else "- a\n- b\n")
    with pytest.raises(ConfigError, match=message):
        train(tiny_cfg(tiny_model_dir, out))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_dir_is_refused(tiny_model_dir, tmp_path, no_model_load):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            train(tiny_cfg(tiny_model_dir, tmp_path / "run"))
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.slow
def test_foreign_folders_survive_and_a_damaged_checkpoint_is_skipped(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    foreign_and_stale(out)
    foreign = {k: v for k, v in snapshot(out).items() if not k.startswith("checkpoint-1")}
    extra = {"train.max_steps": 2, "train.save_steps": 1, "train.save_total_limit": 2}
    train(tiny_cfg(tiny_model_dir, out, **extra))
    printed = capsys.readouterr().out
    assert "leaving checkpoint-500, checkpoint-best alone: not written by mathrl" in printed
    assert "removing mathrl's unfinished checkpoint-1" in printed
    assert {k: v for k, v in snapshot(out).items() if k in foreign} == foreign  # byte for byte
    assert (out / "checkpoint-1" / COMPLETE_MARKER).is_file() and (out / "checkpoint-2" / COMPLETE_MARKER).is_file()

    final = snapshot(out / "final")
    assert train(tiny_cfg(tiny_model_dir, out, **extra)).global_step == 2  # the same target: finished
    assert "already finished at step 2" in capsys.readouterr().out
    assert snapshot(out / "final") == final and not (out / "checkpoint-3").exists()

    weights = out / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a disk that filled up, say
    result = train(tiny_cfg(tiny_model_dir, out, **{**extra, "train.max_steps": 3}))
    printed = capsys.readouterr().out
    assert "skipping damaged checkpoint-2 (model.safetensors: " in printed and "resuming from checkpoint-1" in printed
    assert result.resumed_from.name == "checkpoint-1" and result.global_step == 3
    assert checkpoint_problem(out / "checkpoint-2") is None  # saved again by the resumed run
    assert {k: v for k, v in snapshot(out).items() if k in foreign} == foreign


def test_the_newest_checkpoint_is_found_by_step_number_not_by_name(tmp_path):
    # by name, "checkpoint-950" sorts after "checkpoint-1000": a rerun would resume 50 steps back
    for step in (50, 950, 1000, 200):
        fake_checkpoint(tmp_path, step)
    (tmp_path / "checkpoint-latest").mkdir()  # not a step number: ignored
    assert find_checkpoint(tmp_path).name == "checkpoint-1000"


@pytest.mark.parametrize("weights", ["model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors",
                                     "pytorch_model.bin"])
def test_any_of_the_weight_files_makes_a_checkpoint_complete(tmp_path, weights):
    checkpoint = fake_checkpoint(tmp_path, 3, weights=False)
    assert not is_complete(checkpoint)  # state and marker, but no weights
    (checkpoint / weights).write_text("{}")
    assert is_complete(checkpoint)
    assert find_checkpoint(tmp_path / "empty") is None


class StopAfter:
    """Dies like a closed notebook tab: SystemExit right after step `step` has been logged."""

    def __init__(self, step):
        from transformers import TrainerCallback

        self.callback = type("Stop", (TrainerCallback,), {"on_log": self._on_log})()
        self.step = step

    def _on_log(self, args, state, control, logs=None, **kwargs):
        if state.global_step == self.step and "train_runtime" not in (logs or {}):
            raise SystemExit(f"killed after step {self.step}")


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_killed_run_resumes_to_the_same_step_without_losing_rows(tiny_model_dir, tmp_path, capsys, fake_hub, lora):
    extra = {"model.lora": lora, "model.lora_r": 4, "model.lora_alpha": 8, "train.learning_rate": 1e-3,
             "train.push_to_hub": lora, "train.hub_model_id": "me/tiny"}
    cfg = tiny_cfg(tiny_model_dir, tmp_path, **extra)
    with pytest.raises(SystemExit):
        train(cfg, callbacks=(StopAfter(3).callback,))
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]
    assert yaml.safe_load((tmp_path / CONFIG_FILE).read_text())["model"]["lora"] is lora
    half = tmp_path / "checkpoint-3"  # marked as started when the save was decided, before the kill
    assert sorted(p.name for p in half.iterdir()) == [STARTED_MARKER]
    (half / "trainer_state.json").write_text(json.dumps({"global_step": 3}))  # as if killed mid-save
    (half / ("adapter_model.safetensors" if lora else "model.safetensors")).write_text("")

    if lora:
        result = train(tiny_cfg(tiny_model_dir, tmp_path, **extra))
        assert result.resumed_from.name == "checkpoint-2" and result.global_step == 3
    else:  # the command line resumes the same way
        assert commands.main(["train", "--profile", "cpu-smoke", "--config", str(tmp_path / CONFIG_FILE)]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "checkpoint-2 (step 2 of 3)" in out and "unfinished checkpoint-3" in out

    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]  # step 3 replayed and logged once, not twice
    assert sorted({s["step"] for s in read_samples(tmp_path)}) == [1, 2, 3]
    assert len(read_samples(tmp_path)) == 3 * 4
    checkpoints = sorted(p.name for p in tmp_path.glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-2", "checkpoint-3"]
    state = json.loads((tmp_path / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth", COMPLETE_MARKER} <= {
        p.name for p in (tmp_path / "checkpoint-3").iterdir()}
    final = tmp_path / "final"
    assert (final / "model.safetensors").is_file()  # merged for LoRA: a plain folder the evaluator loads
    if lora:
        assert (final / "adapter" / "adapter_config.json").is_file()
        assert not (final / "adapter_config.json").exists()
        assert [(repo, "model.safetensors" in names) for repo, names in fake_hub.uploads] == [("me/tiny", True)]
    from mathrl.config import ModelConfig
    from mathrl.models import load_model

    model, _, _ = load_model(ModelConfig(name=str(final)))
    assert type(model).__name__ == "LlamaForCausalLM"


# --------------------------------------------------------------------------- several processes


RANK_SCRIPT = """
import hashlib, os, sys
import torch
from accelerate.state import AcceleratorState
from transformers import TrainerCallback
from mathrl.config import load_config
from mathrl.train.grpo import train

class Fingerprint(TrainerCallback):
    def on_train_end(self, args, state, control, model=None, **kwargs):
        digest = hashlib.sha256()
        for name, p in sorted(model.state_dict().items()):
            digest.update(name.encode()); digest.update(p.detach().cpu().numpy().tobytes())
        engine = AcceleratorState().distributed_type.value  # the engine that ran, not the one the config asked for
        open(os.path.join(sys.argv[2], f"rank{os.environ['RANK']}"), "w").write(f"{digest.hexdigest()} {engine}")

train(load_config(config_file=sys.argv[1]), callbacks=(Fingerprint(),))
"""


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["torchrun", "multi_gpu"])  # multi_gpu: the shipped DDP accelerate config
def test_two_cpu_processes_stay_identical_and_only_rank_zero_writes(launcher, tiny_model_dir, tmp_path):
    out, probe = tmp_path / "run", tmp_path / "probe"
    probe.mkdir()
    cfg = tiny_cfg(tiny_model_dir, out, **{"train.max_steps": 2, "train.learning_rate": 1e-3,
                                           "eval.during_training_every": 1, "eval.during_training_limit": 2})
    config_file = save_config(cfg)
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if launcher == "torchrun":
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    else:  # the command launch_training runs, with the probing script in place of `-m mathrl train --config FILE`
        command = launch_command(config_file, 2, accelerate_config=launcher)
        assert command[-5:] == ["-m", "mathrl", "train", "--config", str(config_file)]
        command = command[:-5]
    done = subprocess.run([*command, str(script), str(config_file), str(probe)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fingerprints = {p.name: p.read_text() for p in probe.iterdir()}
    assert len(fingerprints) == 2 and len(set(fingerprints.values())) == 1
    assert next(iter(fingerprints.values())).endswith(" MULTI_CPU")  # DDP over gloo: accelerate's name on CPU
    assert [r["step"] for r in read_metrics(out)] == [0, 1, 2]  # one row per step: rank 1 wrote nothing
    assert all(r["heldout/n"] == 2 for r in read_metrics(out))  # both ranks scored held-out problems, rank 0 wrote
    assert len(read_samples(out)) == 2 * 4
    assert done.stdout.count("[mathrl] done: step 2") == 1
    assert (out / "checkpoint-2" / COMPLETE_MARKER).is_file() and (out / "final" / "model.safetensors").is_file()


@pytest.mark.slow
@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_the_fsdp_config_on_cpu_is_refused_by_every_rank_before_the_output_dir_exists(tiny_model_dir, tmp_path):
    # Launched as accelerate launches it: mathrl train, not launch_training's own check, must refuse.
    out = tmp_path / "run"
    config_file = tiny_cfg(tiny_model_dir, out).save(tmp_path / "config.yaml")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(launch_command(config_file, 2, accelerate_config="fsdp"), env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and not out.exists()
    assert (done.stdout + done.stderr).count("FSDP needs a CUDA GPU and none is visible") == 2


@pytest.mark.parametrize("name", ["fsdp", "zero2", "zero3"])
def test_engines_that_need_a_gpu_are_refused_on_cpu_before_anything_starts(name, tiny_model_dir, tmp_path,
                                                                         monkeypatch):
    import torch

    import mathrl.train.launch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(mathrl.train.launch, "stream", lambda *a, **k: pytest.fail("a refused engine was launched"))
    out = tmp_path / "run"
    engine = "FSDP" if name == "fsdp" else "DEEPSPEED"
    with pytest.raises(MathrlError, match=f"^{engine} needs a CUDA GPU .*multi_gpu.yaml$"):
        launch_training(tiny_cfg(tiny_model_dir, out), num_processes=2, accelerate_config=name)
    assert not out.exists()
    # Under `accelerate launch` the engine arrives as an environment variable; `mathrl train` reads it.
    monkeypatch.setenv(f"ACCELERATE_USE_{engine}", "true")
    assert commands.main(["train", "--config", str(tiny_cfg(tiny_model_dir, out).save(tmp_path / "c.yaml"))]) == 2
    assert not out.exists()


def test_launch_command_per_accelerate_config(tmp_path):
    ddp = launch_command("c.yaml", 2)
    assert ddp[1:] == ["-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu",
                       "-m", "mathrl", "train", "--config", "c.yaml"]
    for name in ("multi_gpu", "zero2", "zero3", "fsdp"):
        command = launch_command("c.yaml", 2, accelerate_config=name)
        config = yaml.safe_load(Path(command[command.index("--config_file") + 1]).read_text())
        assert config["num_processes"] == 2 and config["mixed_precision"] == "no"
    assert launch_command("c.yaml", 4, launcher="torchrun")[1:5] == ["-m", "torch.distributed.run",
                                                                     "--nproc_per_node", "4"]
    with pytest.raises(MathrlError, match="shipped: fsdp, multi_gpu, zero2, zero3"):
        launch_command("c.yaml", 2, accelerate_config="zero9")


def test_launch_training_streams_a_subprocess_for_several_processes(tiny_model_dir, tmp_path, monkeypatch):
    import mathrl.train.launch

    seen = {}

    def fake_stream(command, echo, on_idle):
        seen["command"] = command
        return 0

    monkeypatch.setattr(mathrl.train.launch, "stream", fake_stream)
    cfg = tiny_cfg(tiny_model_dir, tmp_path)
    assert launch_training(cfg, num_processes=2, echo=lambda line: None) == tmp_path
    assert seen["command"][-2:] == ["--config", str(tmp_path / CONFIG_FILE)]
    assert load_config(config_file=tmp_path / CONFIG_FILE).to_dict() == cfg.to_dict()

    lines = []
    assert stream([sys.executable, "-c", "print('one'); print('two')"], echo=lines.append) == 0
    assert lines == ["one", "two"]
