"""Evaluate a model on a split: strict and flexible accuracy with intervals, per-example records, a resumable summary.

    mathrl eval --model runs/smoke/final --split test --limit 50 --out runs/smoke/eval
    mathrl eval --model smollm2-135m-instruct --compare runs/smoke/final --limit 50 --out runs/compare
    mathrl ask --model smollm2-135m-instruct "Tom has 3 apples and buys 4 more. How many now?"
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from mathrl import jsonl, stats
from mathrl.config import Config, option_type
from mathrl.errors import ConfigError, MathrlError
from mathrl.eval.taxonomy import classify, error_table
from mathrl.generation import (
    halving_batches, length_sorted_batches, prompt_texts, stop_strings, transformers_generate, vllm_generate,
)
from mathrl.models import model_context_length
from mathrl.parsing import FLEXIBLE_RULES, STRICT_RULES, extract_answer
from mathrl.rewards import grade, reward_breakdown

RULE_SETS = {"strict": STRICT_RULES, "flexible": FLEXIBLE_RULES}
RECORDS, SUMMARY, RUN = "records.jsonl", "summary.json", "run.json"
TIMING_KEYS = ("tokens_per_second", "generation_seconds")  # the only summary fields that differ between reruns


# --------------------------------------------------------------------------- scoring


def is_correct(answer: str | None, gold: str, cfg) -> bool:
    """Right when rewards.grade calls it exact or within tolerance: the same judge the correctness reward uses."""
    return grade(answer, gold, cfg.rewards) in ("exact", "tolerance")


def score(rows: list[dict], greedy: list, samples: list[list], cfg: Config) -> list[dict]:
    """One record per row from its greedy completion (and samples): answers under both rules, rewards, verdicts."""
    fmt, texts = cfg.format, [c.text for c in greedy]
    columns = {key: [r[key] for r in rows] for key in ("answer", "solution", "question")}
    rewards = reward_breakdown(texts, fmt=fmt, reward_cfg=cfg.rewards, **columns)
    records = []
    for i, (row, done) in enumerate(zip(rows, greedy)):
        record = {"id": row["id"], "question": row["question"], "gold": row["answer"], "completion": done.text,
                  "tokens": done.tokens, "truncated": done.truncated}
        for rule, rules in RULE_SETS.items():
            found = extract_answer(done.text, fmt, rules)
            record[rule] = {"answer": found.value, "rule": found.rule,
                            "correct": is_correct(found.value, row["answer"], cfg)}
        headline = record[cfg.eval.headline_rule]
        record.update(answer=headline["answer"], rule=headline["rule"], correct=headline["correct"],
                      rewards={name: scores[i] for name, scores in rewards.items()})
        record["error"] = classify(record)
        if samples:
            record["samples"] = [_sample(c, row["answer"], cfg) for c in samples[i]]
        records.append(record)
    return records


def _sample(done, gold: str, cfg: Config) -> dict:
    answer = extract_answer(done.text, cfg.format, RULE_SETS[cfg.eval.headline_rule]).value
    return {"completion": done.text, "tokens": done.tokens, "truncated": done.truncated, "answer": answer,
            "correct": is_correct(answer, gold, cfg)}


# --------------------------------------------------------------------------- records on disk


def read_records(path: str | Path) -> dict[str, dict]:
    """Records by id; a torn last line (an interrupted write) is cut off the file so appends start clean."""
    try:
        return {record["id"]: record for record in jsonl.read_repairing(path)}
    except jsonl.Malformed as err:
        raise MathrlError(f"{err.path}:{err.number}: malformed record in the middle of the file; "
                          "delete the file to start over") from None


def _check_same_run(out: Path, run: dict) -> None:
    path = out / RUN
    if path.is_file() and (out / RECORDS).is_file():
        before = json.loads(path.read_text())
        changed = sorted(k for k in run if before.get(k) != run[k])
        if changed:
            raise MathrlError(f"{out} holds records of a different run ({', '.join(changed)} differ); "
                              "pick another --out or delete the folder")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=2))


# --------------------------------------------------------------------------- the evaluation loop


def eval_rows(cfg: Config, split: str | None = None) -> list[dict]:
    """The examples to evaluate: the data source's eval split, first eval.limit rows."""
    from mathrl.data.load import load_rows

    if cfg.eval.limit is not None and cfg.eval.limit <= 0:
        raise ConfigError(f"eval.limit={cfg.eval.limit}: evaluate at least one example (or none for the whole split)")
    rows = load_rows(dataclasses.replace(cfg.data, limit=cfg.eval.limit), split or cfg.data.eval_split)
    if not rows:
        raise MathrlError(f"the split {split or cfg.data.eval_split!r} holds no examples to evaluate")
    return rows


def _generator(cfg: Config, model_name: str):
    """(generate function, tokenizer) for the model, by vLLM or transformers as eval.use_vllm says."""
    from mathrl.models import load_model, load_tokenizer, resolve_model_path

    stops, max_new = stop_strings(cfg.format), cfg.eval.max_new_tokens
    if cfg.eval.use_vllm:
        path = resolve_model_path(model_name)
        tokenizer = load_tokenizer(path, cfg.model.trust_remote_code)
        return vllm_generate(path, tokenizer, max_new, stops, cfg.model.dtype), tokenizer
    model, tokenizer, _ = load_model(dataclasses.replace(cfg.model, name=model_name))
    model.eval()
    return transformers_generate(model, tokenizer, max_new, stops), tokenizer


def evaluate(cfg: Config, model_name: str | None = None, out: str | Path | None = None,
             rows: list[dict] | None = None, split: str | None = None, generator=None, progress: bool = True,
             ks: list[int] | None = None) -> dict:
    """Evaluate one model on rows (default: eval_rows), resuming from records already in out; returns the summary.

    `generator` = (generate function, tokenizer) replaces model loading (tests, or a model already in memory).
    """
    model_name = model_name or cfg.model.name
    out = Path(out or cfg.eval.out)
    rows = rows if rows is not None else eval_rows(cfg, split)
    e = cfg.eval
    # Everything a stored record depends on; the headline rule decides its "correct" and "error" fields.
    _check_same_run(out, {"model": model_name, "format": cfg.format.name, "max_new_tokens": e.max_new_tokens,
                          "num_samples": e.num_samples, "temperature": e.temperature if e.num_samples > 1 else None,
                          "headline_rule": e.headline_rule})
    path = out / RECORDS
    done = read_records(path)
    if any(r["id"] not in done for r in rows):
        generate, tokenizer = generator or _generator(cfg, model_name)
        context = None if generator else model_context_length(model_name)
        _generate_missing(rows, done, path, generate, tokenizer, cfg, progress, context)
    records = [done[r["id"]] for r in rows]
    summary = summarize(records, cfg, model=model_name, split=split or cfg.data.eval_split, ks=ks)
    (out / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


def check_fits_context(lengths: list[int], ids: list, max_new_tokens: int, context: int | None) -> None:
    """Refuse before generating when a prompt plus max_new_tokens is longer than the model reads (None: unknown).

    >>> check_fits_context([100, 900], ["a", "b"], 200, 1024)
    Traceback (most recent call last):
    mathrl.errors.MathrlError: 1 prompt does not fit the model's context of 1024 tokens with 200 new tokens (first: b, 900 prompt tokens): lower eval.max_new_tokens to at most 124, or shorten the question
    """
    too_long = [(i, n) for i, n in zip(ids, lengths) if context is not None and n + max_new_tokens > context]
    if too_long:
        first, n = too_long[0]
        fix = (f"lower eval.max_new_tokens to at most {context - n}, or shorten the question" if n < context
               else "shorten the question")
        raise MathrlError(f"{len(too_long)} prompt{'s do' if len(too_long) > 1 else ' does'} not fit the model's "
                          f"context of {context} tokens with {max_new_tokens} new tokens (first: {first}, {n} prompt "
                          f"tokens): {fix}")


def _generate_missing(rows, done: dict, path: Path, generate, tokenizer, cfg: Config, progress: bool,
                      context: int | None = None) -> None:
    import torch
    from tqdm.auto import tqdm

    prompts = prompt_texts(rows, tokenizer)
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    check_fits_context(lengths, [r["id"] for r in rows], cfg.eval.max_new_tokens, context)
    # Whole batches are redone when any member is missing, so batch mates (and so the padding) match an unbroken run.
    batches = [b for b in length_sorted_batches(lengths, cfg.eval.batch_size)
               if any(rows[i]["id"] not in done for i in b)]
    pending = [i for batch in batches for i in batch]
    k, temperature = cfg.eval.num_samples, cfg.eval.temperature
    bar = tqdm(total=len(rows), initial=len(rows) - len(pending), unit="example", disable=not progress)

    def run(chunk: list[int]):
        started = time.perf_counter()
        texts = [prompts[i] for i in chunk]
        greedy = [c[0] for c in generate(texts, 1, None)]
        sampled = []
        if k > 1:
            torch.manual_seed(cfg.data.seed + chunk[0])  # a rerun of this chunk draws the same samples
            step = max(1, len(chunk) // k)  # about as many sequences per call as a greedy batch
            for j in range(0, len(texts), step):
                sampled += generate(texts[j : j + step], k, temperature)
        return greedy, sampled, time.perf_counter() - started

    for chunk, (greedy, sampled, seconds) in halving_batches(run, pending, cfg.eval.batch_size):
        records = score([rows[i] for i in chunk], greedy, sampled, cfg)
        total = sum(r["tokens"] + sum(s["tokens"] for s in r.get("samples", [])) for r in records) or 1
        fresh = [r for r in records if r["id"] not in done]
        for record in records:
            mine = record["tokens"] + sum(s["tokens"] for s in record.get("samples", []))
            record["seconds"] = seconds * mine / total  # the batch's time, shared by generated tokens
        jsonl.append(path, fresh)  # a batch on disk is a batch a rerun will not repeat
        done.update({r["id"]: r for r in fresh})
        bar.update(len(fresh))
    bar.close()


# --------------------------------------------------------------------------- summary


def accuracy(flags: list[bool]) -> dict:
    """Accuracy of a list of right/wrong flags with its 95% Wilson interval and standard error."""
    n, right = len(flags), sum(flags)
    low, high = stats.wilson_interval(right, n)
    return {"correct": right, "n": n, "accuracy": right / n, "ci95": [low, high],
            "se": stats.standard_error(right / n, n)}


def sample_metrics(records: list[dict], ks: list[int] | None = None) -> dict:
    """maj@k and unbiased pass@k (for each k in ks, default powers of two up to the samples) over sampled records."""
    n = len(records[0]["samples"])
    ks = ks or sorted({2**i for i in range(n.bit_length()) if 2**i <= n} | {n})
    too_big = [k for k in ks if k > n]
    if too_big:
        raise ConfigError(f"pass@{too_big[0]} needs at least {too_big[0]} samples per question, the run drew {n}; "
                          f"raise eval.num_samples or lower k")
    majority = [stats.majority_vote(s["answer"] for s in r["samples"]) for r in records]
    maj_right = [any(s["correct"] for s in r["samples"] if s["answer"] == m) for r, m in zip(records, majority)]
    passes = {f"pass@{k}": sum(stats.pass_at_k(n, sum(s["correct"] for s in r["samples"]), k) for r in records)
              / len(records) for k in ks}
    return {"samples": n, f"maj@{n}": accuracy(maj_right), **passes}


def summarize(records: list[dict], cfg: Config, model: str = "", split: str = "", ks: list[int] | None = None) -> dict:
    """The summary of a run from its records alone, so a resumed run summarizes exactly like an unbroken one."""
    if not records:
        raise MathrlError("no records to summarize")
    tokens = [r["tokens"] for r in records]
    generated = sum(t + sum(s["tokens"] for s in r.get("samples", [])) for t, r in zip(tokens, records))
    seconds = sum(r.get("seconds", 0.0) for r in records)
    rule = cfg.eval.headline_rule
    by_rule = {name: accuracy([r[name]["correct"] for r in records]) for name in RULE_SETS}
    return {
        "model": model, "split": split, "format": cfg.format.name, "n": len(records),
        "headline_rule": rule,
        "rules": {"strict": f"the {cfg.format.answer.open} field only", "flexible": "the last number in the text"},
        "headline": {"rule": rule, **by_rule[rule]},
        "accuracy": by_rule,
        "format_compliance": {
            "sections_in_order": _mean(r["rewards"].get("format_reward_soft", 0.0) for r in records),
            "exact_layout": _mean(r["rewards"].get("format_reward_strict", 0.0) for r in records),
        },
        "completion_tokens": {"mean": _mean(tokens), "p95": stats.percentile(tokens, 95), "max": max(tokens)},
        "truncation_rate": _mean(r["truncated"] for r in records),
        "sampling": sample_metrics(records, ks) if records[0].get("samples") else None,
        "errors": error_table(records),
        "generated_tokens": generated,
        "generation_seconds": seconds,
        "tokens_per_second": generated / seconds if seconds else None,
    }


def _mean(values) -> float:
    values = [float(v or 0.0) for v in values]
    return sum(values) / len(values) if values else 0.0


# --------------------------------------------------------------------------- base vs trained


def compare_records(base: list[dict], trained: list[dict], examples: int = 10) -> dict:
    """Paired comparison on the ids both runs scored: accuracy difference, McNemar test, flips each way."""
    trained_by_id = {r["id"]: r for r in trained}
    pairs = [(b, trained_by_id[b["id"]]) for b in base if b["id"] in trained_by_id]
    if not pairs:
        raise MathrlError("the two runs share no example ids: evaluate both on the same split and limit")
    difference = stats.paired_difference([b["correct"] for b, _ in pairs], [t["correct"] for _, t in pairs])

    def flips(fixed: bool) -> list[dict]:
        return [{"id": b["id"], "question": b["question"], "gold": b["gold"], "base_answer": b["answer"],
                 "trained_answer": t["answer"], "trained_completion": t["completion"]}
                for b, t in pairs if t["correct"] == fixed and b["correct"] != fixed]

    fixed, broken = flips(True), flips(False)
    return {
        "n": len(pairs),
        "base": accuracy([b["correct"] for b, _ in pairs]),
        "trained": accuracy([t["correct"] for _, t in pairs]),
        "difference": difference["difference"], "ci95": list(difference["interval"]),
        # mcnemar's b counts pairs the trained model got wrong and the base right; c the other way
        "mcnemar": stats.mcnemar(len(broken), len(fixed)),
        "fixed": fixed[:examples], "broken": broken[:examples], "fixed_count": len(fixed), "broken_count": len(broken),
    }


def comparison_text(result: dict) -> str:
    """Base and trained accuracy with 95% Wilson intervals, the paired difference and McNemar's test."""
    lines = []
    for name in ("base", "trained"):
        acc = result[name]
        low, high = acc["ci95"]
        lines.append(f"{name:<8} {acc['accuracy']:6.1%}  (95% CI {low:.1%} to {high:.1%}, {acc['correct']}/{acc['n']})")
    test = result["mcnemar"]
    lines.append(f"difference {result['difference']:+.1%} (95% CI {result['ci95'][0]:+.1%} to {result['ci95'][1]:+.1%})")
    lines.append(f"fixed {result['fixed_count']}, broken {result['broken_count']}: McNemar ({test['method']}) "
                 f"p = {test['p_value']:.3g}")
    return "\n".join(lines)


def flips_text(result: dict, n: int = 2) -> str:
    """Questions the training fixed and broke, with both answers and the trained model's completion."""
    blocks = []
    for kind in ("fixed", "broken"):
        for flip in result[kind][:n]:
            blocks.append(f"[{kind}] {flip['question']}\n  gold {flip['gold']}, base {flip['base_answer']}, trained "
                          f"{flip['trained_answer']}\n  trained model wrote: {flip['trained_completion'][:300]}")
    return "\n\n".join(blocks) or "no flips: the two models are right and wrong on the same questions"


def compare(cfg: Config, base: str, trained: str, out: str | Path | None = None, split: str | None = None,
            progress: bool = True) -> dict:
    """Evaluate two models (or a model and its checkpoint / adapter folder) on the same rows and compare them."""
    out = Path(out or cfg.eval.out)
    rows = eval_rows(cfg, split)
    summaries = {name: evaluate(cfg, model, out / name, rows, split, progress=progress)
                 for name, model in (("base", base), ("trained", trained))}
    scored = {name: read_records(out / name / RECORDS) for name in summaries}
    result = compare_records(*([scored[name][r["id"]] for r in rows] for name in ("base", "trained")))
    result.update(base_model=base, trained_model=trained, headline_rule=cfg.eval.headline_rule,
                  summaries=summaries)
    (out / "compare.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return result


# --------------------------------------------------------------------------- one question


_LOADED: dict = {}  # (model, generation settings) -> (generate, tokenizer): notebook 04 asks one model many questions


def ask(model, question: str, cfg: Config) -> dict:
    """The model's greedy answer to one word problem: its reasoning, the extracted answer and the rule that found it.

    `model` is a name or path (loaded once and kept), or a (generate function, tokenizer) pair.
    """
    from mathrl.data.load import make_prompt

    if not question.strip():
        raise MathrlError("ask needs a question, e.g. mathrl ask \"Tom has 3 apples and buys 4 more. How many?\"")
    context = model_context_length(model) if isinstance(model, str) else None
    if isinstance(model, str):
        key = (model, cfg.eval.max_new_tokens, cfg.format.name, cfg.eval.use_vllm)
        if key not in _LOADED:
            _LOADED.clear()  # keep one model in memory at a time
            _LOADED[key] = _generator(cfg, model)
        model = _LOADED[key]
    generate, tokenizer = model
    texts = prompt_texts([{"prompt": make_prompt(question.strip(), cfg.data)}], tokenizer)
    check_fits_context([len(tokenizer(texts[0], add_special_tokens=False)["input_ids"])], ["the question"],
                       cfg.eval.max_new_tokens, context)
    done = generate(texts, 1, None)[0][0]
    answers = {rule: extract_answer(done.text, cfg.format, rules) for rule, rules in RULE_SETS.items()}
    headline = answers[cfg.eval.headline_rule]
    return {"question": question.strip(), "completion": done.text, "answer": headline.value, "rule": headline.rule,
            "strict": answers["strict"].value, "flexible": answers["flexible"].value,
            "tokens": done.tokens, "truncated": done.truncated}


# --------------------------------------------------------------------------- command line


def add_eval_arguments(parser) -> None:
    parser.add_argument("--model", help="model to evaluate: Hub id, folder, adapter folder (default: model.name)")
    parser.add_argument("--compare", metavar="OTHER_MODEL", help="also evaluate this model and compare the two")
    parser.add_argument("--split", help="split to evaluate (default: data.eval_split)")
    parser.add_argument("--limit", type=option_type("eval.limit"), help="first N examples (default: eval.limit)")
    parser.add_argument("--out", help="folder for records.jsonl and summary.json (default: eval.out)")
    parser.add_argument("--samples", type=option_type("eval.num_samples"), help="samples per question for maj@k / pass@k (eval.num_samples)")
    parser.add_argument("--k", type=option_type(int, at_least=1), action="append", help="report pass@K (repeatable; K <= --samples)")
    parser.add_argument("--batch-size", type=option_type("eval.batch_size"), help="prompts per generate call (eval.batch_size)")
    parser.add_argument("--max-new-tokens", type=option_type("eval.max_new_tokens"), help="tokens per answer (eval.max_new_tokens)")
    parser.add_argument("--headline", choices=sorted(RULE_SETS), help="rule for the headline accuracy")
    parser.add_argument("--vllm", action="store_true", help="generate with vLLM (must be installed)")


def _apply_eval_args(args, cfg: Config) -> None:
    from mathrl.config import validate

    for name, key in (("limit", "limit"), ("out", "out"), ("samples", "num_samples"), ("batch_size", "batch_size"),
                      ("max_new_tokens", "max_new_tokens"), ("headline", "headline_rule")):
        if getattr(args, name, None) is not None:
            setattr(cfg.eval, key, getattr(args, name))
    cfg.eval.use_vllm = cfg.eval.use_vllm or bool(getattr(args, "vllm", False))
    validate(cfg)
    too_big = [k for k in getattr(args, "k", None) or [] if not 0 < k <= cfg.eval.num_samples]
    if too_big:
        raise ConfigError(f"--k {too_big[0]}: pass@k needs 1 <= k <= samples per question ({cfg.eval.num_samples}); "
                          f"raise --samples")


def _line(name: str, result: dict) -> str:
    low, high = result["ci95"]
    return f"{name:<10} {result['accuracy']:6.1%}  (95% CI {low:.1%}-{high:.1%}, {result['correct']}/{result['n']})"


def print_summary(summary: dict) -> None:
    print(f"{summary['model']} on {summary['split']} ({summary['n']} examples, "
          f"headline rule: {summary['headline_rule']})")
    for rule, result in summary["accuracy"].items():
        print("  " + _line(rule, result) + f"  <- {summary['rules'][rule]}")
    lengths = summary["completion_tokens"]
    print(f"  format in order {summary['format_compliance']['sections_in_order']:.1%}, truncated "
          f"{summary['truncation_rate']:.1%}, length mean {lengths['mean']:.0f} / p95 {lengths['p95']:.0f} tokens")
    if summary["sampling"]:
        print("  " + "  ".join(f"{k} {v['accuracy'] if isinstance(v, dict) else v:.1%}"
                               for k, v in summary["sampling"].items() if k != "samples"))
    wrong = {kind.replace("_", " "): e["count"] for kind, e in summary["errors"].items() if e["count"]}
    print("  errors: " + (", ".join(f"{k} {v}" for k, v in wrong.items()) or "none"))


def run_eval(args, cfg: Config) -> int:
    _apply_eval_args(args, cfg)
    model = args.model or cfg.model.name
    if args.compare:
        result = compare(cfg, model, args.compare, args.out, args.split)
        for name in ("base", "trained"):
            print_summary(result["summaries"][name])
        print(comparison_text(result))
        print(flips_text(result, n=5))
        print(f"records, summaries and compare.json in {cfg.eval.out}")
        return 0
    summary = evaluate(cfg, model, args.out, split=args.split, ks=args.k)
    print_summary(summary)
    print(f"records and summary in {cfg.eval.out}")
    return 0


def add_ask_arguments(parser) -> None:
    parser.add_argument("question", help="a word problem, in quotes")
    parser.add_argument("--model", help="model to ask (default: model.name)")
    parser.add_argument("--max-new-tokens", type=option_type("eval.max_new_tokens"), help="tokens for the answer (eval.max_new_tokens)")


def run_ask(args, cfg: Config) -> int:
    if args.max_new_tokens is not None:
        cfg.eval.max_new_tokens = args.max_new_tokens
    result = ask(args.model or cfg.model.name, args.question, cfg)
    print(result["completion"])
    print("-" * 40)
    print(f"answer: {result['answer']}  (rule: {result['rule']}; strict {result['strict']}, "
          f"flexible {result['flexible']}{', truncated' if result['truncated'] else ''})")
    return 0
