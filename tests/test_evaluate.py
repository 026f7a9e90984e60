"""Evaluation: scoring rules, records, resuming, sampling metrics, base vs trained, commands and bad input."""

import importlib.util
import json

import pytest
import torch

from mathrl import jsonl
from mathrl.cli.commands import main
from mathrl.config import ConfigError, MathrlError, load_config
from mathrl.data.load import make_prompt
from mathrl.eval import evaluate as ev
from mathrl.generation import Completion, halving_batches, transformers_generate

RIGHT = "<reasoning>\n5 + 7 = 12\n</reasoning>\n<answer>\n12\n</answer>"


def rows(n=3):
    return [{"id": f"q{i}", "question": f"What is 5 + {i}?", "answer": str(5 + i), "solution": f"#### {5 + i}",
             "prompt": [{"role": "user", "content": f"What is 5 + {i}?"}]} for i in range(n)]


def tiny_cfg(model_dir, tmp_path, **evals):
    cfg = load_config("cpu-smoke", overrides={"model.name": str(model_dir)})
    cfg.eval.out = str(tmp_path / "eval")
    cfg.eval.max_new_tokens = 6  # reduce time: the tiny model never stops on its own
    cfg.eval.batch_size = 2  # several batches from a few examples, so resuming has something to skip
    cfg.eval.limit = 5
    for key, value in evals.items():
        setattr(cfg.eval, key, value)
    return cfg


def strip_timing(summary):
    return {k: v for k, v in summary.items() if k not in ev.TIMING_KEYS}


# --------------------------------------------------------------------------- batching under memory pressure


def test_out_of_memory_halves_the_batch_and_keeps_every_item():
    seen = []

    def generate(chunk):  # a GPU that fits at most 3 sequences
        if len(chunk) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        seen.append(len(chunk))
        return [x * 10 for x in chunk]

    results = list(halving_batches(generate, list(range(9)), batch_size=16))
    assert seen == [2, 2, 2, 2, 1]  # 16 -> 8 -> 4 -> 2, then kept
    assert [x for chunk, _ in results for x in chunk] == list(range(9))
    assert [y for _, out in results for y in out] == [x * 10 for x in range(9)]


def test_out_of_memory_at_batch_one_is_a_clear_error():
    def generate(chunk):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(MathrlError, match="batch of one"):
        list(halving_batches(generate, [1, 2], batch_size=2))


def test_decode_drops_finished_rows_and_matches_generate(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mathrl.generation import decode

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left")
    batch = tokenizer(["What is 2 + 2?", "A much longer question about apples, pears and plums?", "Hi"],
                      return_tensors="pt", padding=True)
    free = decode(model, batch["input_ids"], batch["attention_mask"], 8, torch.tensor([-1]))
    # Make a token the random model emits mid-way through row 0 the end token, so rows finish at different steps.
    end = free[0][0][3]
    ours = decode(model, batch["input_ids"], batch["attention_mask"], 8, torch.tensor([end]))
    reference = model.generate(**batch, max_new_tokens=8, do_sample=False, eos_token_id=end, pad_token_id=end)
    for (tokens, finished), row in zip(ours, reference[:, batch["input_ids"].shape[1]:].tolist()):
        cut = row.index(end) + 1 if end in row else len(row)
        assert tokens == row[:cut] and finished == (end in row)
    assert ours[0][1] and len(ours[0][0]) <= 4


def test_shared_prefix_is_encoded_once_with_the_same_result(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mathrl.generation import decode, shared_prefix

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left")
    prompts = ["Solve step by step. What is 2 + 2?", "Solve step by step. How many pears are left if Tom eats 3?"]
    encoded = tokenizer(prompts)["input_ids"]
    shared = shared_prefix(encoded)
    assert shared >= 4
    full = tokenizer(prompts, return_tensors="pt", padding=True)
    suffix = tokenizer.pad({"input_ids": [e[shared:] for e in encoded]}, return_tensors="pt")
    whole = decode(model, full["input_ids"], full["attention_mask"], 6, torch.tensor([-1]))
    split = decode(model, suffix["input_ids"], suffix["attention_mask"], 6, torch.tensor([-1]),
                   prefix=torch.tensor([encoded[0][:shared]]))
    assert split == whole


# --------------------------------------------------------------------------- scoring and records


def test_score_states_both_rules_and_the_headline(tmp_path):
    cfg = load_config("cpu-smoke")
    completions = [
        Completion(RIGHT.replace("12", "5"), 20, False),  # right in the answer field
        Completion("5 + 1 = 6, so the answer is 6", 12, False),  # right number, no answer field
        Completion("<reasoning>5 + 2 = 8</reasoning><answer>8</answer>", 15, False),  # a wrong step
    ]
    records = ev.score(rows(), completions, [], cfg)
    assert [r["strict"]["correct"] for r in records] == [True, False, False]
    assert [r["flexible"]["correct"] for r in records] == [True, True, False]
    assert records[1]["strict"]["rule"] == "none" and records[1]["flexible"]["rule"] == "last_number"
    assert [r["correct"] for r in records] == [True, False, False]  # headline = strict
    assert [r["error"] for r in records] == [None, "wrong_format", "arithmetic_slip"]
    assert set(records[0]["rewards"]) >= {"correctness_reward", "format_reward_soft", "stepwise_reward"}
    summary = ev.summarize(records, cfg)
    assert summary["headline"]["rule"] == "strict" and summary["headline"]["correct"] == 1
    assert summary["accuracy"]["flexible"]["correct"] == 2
    assert summary["errors"]["wrong_format"]["count"] == 1
    assert summary["errors"]["wrong_format"]["examples"] == ["q1"]
    assert summary["completion_tokens"]["mean"] == pytest.approx(47 / 3)
    low, high = summary["accuracy"]["strict"]["ci95"]
    assert low < 1 / 3 < high


def test_torn_last_line_is_dropped_and_cut_off(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}) + "\n" + '{"id": "c", "compl')
    assert list(ev.read_records(path)) == ["a", "b"]
    jsonl.append(path, [{"id": "c"}])
    assert list(ev.read_records(path)) == ["a", "b", "c"]


def test_malformed_record_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(MathrlError, match="records.jsonl:2"):
        ev.read_records(path)


def test_sampling_metrics_and_k_above_samples():
    samples = [{"answer": a, "correct": a == "6", "tokens": 1} for a in ("6", "7", "7", "6")]
    metrics = ev.sample_metrics([{"samples": samples}])
    assert metrics["pass@1"] == 0.5 and metrics["pass@4"] == 1.0
    assert metrics["maj@4"]["correct"] == 1  # the 2-2 tie goes to the answer seen first, "6"
    with pytest.raises(ConfigError, match="pass@8"):
        ev.sample_metrics([{"samples": samples}], ks=[8])


def test_compare_records_counts_flips_and_tests_them():
    base = [{"id": str(i), "question": "q", "gold": "1", "answer": "0", "completion": "", "correct": i < 2}
            for i in range(10)]
    trained = [dict(r, correct=r["id"] not in ("0", "9")) for r in base]
    result = ev.compare_records(base, trained)
    assert (result["fixed_count"], result["broken_count"]) == (7, 1)
    assert result["difference"] == pytest.approx(0.6)
    assert result["mcnemar"]["method"] == "exact binomial"
    assert result["mcnemar"]["p_value"] == pytest.approx(2 * 9 / 256)  # 2 * (C(8,0) + C(8,1)) / 2^8
    assert [r["id"] for r in result["broken"]] == ["0"]


# --------------------------------------------------------------------------- end to end on the tiny model


def test_interrupted_run_resumes_to_the_same_summary(tiny_model_dir, tmp_path):
    from mathrl.models import load_model

    cfg = tiny_cfg(tiny_model_dir, tmp_path)
    model, tokenizer, _ = load_model(cfg.model)
    generate = transformers_generate(model, tokenizer, cfg.eval.max_new_tokens)
    unbroken = ev.evaluate(cfg, out=tmp_path / "unbroken", generator=(generate, tokenizer), progress=False)

    calls = []

    def dies_on_second_batch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return generate(*args)

    with pytest.raises(KeyboardInterrupt):
        ev.evaluate(cfg, out=tmp_path / "resumed", generator=(dies_on_second_batch, tokenizer), progress=False)
    path = tmp_path / "resumed" / ev.RECORDS
    assert len(path.read_text().splitlines()) == 2  # the first batch was flushed
    with path.open("a") as handle:
        handle.write('{"id": "torn')  # as if killed mid-write
    resumed = ev.evaluate(cfg, out=tmp_path / "resumed", generator=(generate, tokenizer), progress=False)
    assert strip_timing(resumed) == strip_timing(unbroken)
    assert resumed["n"] == 5 and resumed["truncation_rate"] == 1.0
    cfg.eval.max_new_tokens = 7  # records of 6-token answers must not be mixed with 7-token ones
    with pytest.raises(MathrlError, match="different run.*max_new_tokens"):
        ev.evaluate(cfg, out=tmp_path / "resumed", generator=(generate, tokenizer), progress=False)


def test_eval_and_compare_commands_write_records_and_summary(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["eval", "--model", str(tiny_model_dir), "--compare", str(tiny_model_dir), "--limit", "3",
                 "--max-new-tokens", "4", "--samples", "2", "--k", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "strict" in printed and "flexible" in printed and "McNemar" in printed and "no flips" in printed
    result = json.loads((out / "compare.json").read_text())
    assert result["difference"] == 0 and result["fixed_count"] == result["broken_count"] == 0  # same model twice
    record = json.loads((out / "base" / ev.RECORDS).read_text().splitlines()[0])
    assert {"id", "question", "gold", "completion", "answer", "rule", "rewards", "correct", "samples"} <= set(record)
    assert len(record["samples"]) == 2
    summary = json.loads((out / "base" / ev.SUMMARY).read_text())
    assert {"maj@2", "pass@1", "pass@2"} <= set(summary["sampling"])


def test_ask_shows_reasoning_and_answer(tiny_model_dir, capsys, monkeypatch):
    """The tiny model writes noise, so its generate is swapped for one that answers in format; the loading, prompt,
    extraction and printing are the real ones."""
    real_generator, seen = ev._generator, {}

    def generator(cfg, model_name):
        generate, tokenizer = real_generator(cfg, model_name)
        seen["model"], seen["max_new_tokens"] = model_name, cfg.eval.max_new_tokens

        def answer(prompts, n, temperature):
            seen["prompts"] = prompts
            return [[Completion("<reasoning>\nTwo and three make 2 + 3 = 5.\n</reasoning>\n<answer>\n5\n</answer>",
                                17, False)]]

        return answer, tokenizer

    monkeypatch.setattr(ev, "_generator", generator)
    monkeypatch.setattr(ev, "_LOADED", {})
    assert main(["ask", "--model", str(tiny_model_dir), "--max-new-tokens", "4", "  What is 2 + 3?  "]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["<reasoning>", "Two and three make 2 + 3 = 5.", "</reasoning>", "<answer>"]
    assert out[-1] == "answer: 5  (rule: answer_tag; strict 5, flexible 5)"
    assert (seen["model"], seen["max_new_tokens"]) == (str(tiny_model_dir), 4)
    assert len(seen["prompts"]) == 1 and "What is 2 + 3?" in seen["prompts"][0]


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["eval", "--model", "/no/such/model", "--limit", "2"], 2, "neither an existing folder"),
        (["eval", "--limit", "0"], 2, "eval.limit"),
        (["eval", "--samples", "2", "--k", "4"], 2, "pass@k needs"),
        (["eval", "--set", "data.source=file", "--set", "data.path=EMPTY", "--limit", "2"], 2, "no rows"),
        (["ask", "--model", "/no/such/model", " "], 2, "needs a question"),
    ],
)
def test_bad_input_gives_one_line_message(argv, code, message, tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    argv = [a.replace("EMPTY", str(tmp_path / "empty.jsonl")) for a in argv]
    argv += ["--out", str(tmp_path)] if argv[0] == "eval" else []
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_says_how_to_proceed(tiny_model_dir, tmp_path):
    cfg = tiny_cfg(tiny_model_dir, tmp_path, use_vllm=True)
    with pytest.raises(MathrlError, match="pip install vllm"):
        ev.evaluate(cfg, progress=False)


# --------------------------------------------------------------------------- the real offline model


@pytest.mark.slow
def test_offline_model_on_four_gsm8k_questions(offline_model_dir, tmp_path):
    cfg = load_config("cpu-smoke")
    cfg.eval.limit = 4  # reduce time
    cfg.eval.max_new_tokens = 32  # reduce time
    summary = ev.evaluate(cfg, out=tmp_path, progress=False)
    records = [json.loads(line) for line in (tmp_path / ev.RECORDS).read_text().splitlines()]
    assert summary["n"] == len(records) == 4
    assert all(r["completion"].strip() for r in records)  # the real model writes text
    assert all(0 < r["tokens"] <= 32 for r in records)
    assert summary["tokens_per_second"] > 0
    assert sum(e["count"] for e in summary["errors"].values()) == 4 - summary["headline"]["correct"]


def test_a_question_longer_than_the_models_context_is_refused_before_generating(tiny_model_dir, tmp_path, monkeypatch):
    """The tiny model reads 2048 tokens; ask and eval must stop at once rather than generate past it."""
    import shutil

    small = tmp_path / "small-context"
    shutil.copytree(tiny_model_dir, small)
    config = json.loads((small / "config.json").read_text())
    config["max_position_embeddings"] = 64
    (small / "config.json").write_text(json.dumps(config))
    cfg = load_config("cpu-smoke")
    cfg.eval.max_new_tokens = 16
    monkeypatch.setattr(ev, "transformers_generate", lambda *a, **k: lambda *x: pytest.fail(
        "generation started for a prompt that does not fit"))
    with pytest.raises(MathrlError, match=r"1 prompt does not fit the model's context of 64 tokens with 16 new tokens"):
        ev.ask(str(small), "Tom has " + "many " * 80 + "apples. How many?", cfg)
    rows = [{"id": "long", "prompt": make_prompt("Sam counts " + "one " * 80 + "sheep.", cfg.data), "answer": "1"}]
    with pytest.raises(MathrlError, match=r"first: long, \d+ prompt tokens\): shorten the question"):
        ev.evaluate(cfg, str(small), out=tmp_path / "eval", rows=rows, progress=False)
    assert not (tmp_path / "eval" / "records.jsonl").exists() or not (tmp_path / "eval" / "records.jsonl").read_text()
