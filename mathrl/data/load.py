"""Load math word problems from any registered source (mathrl.data.sources: GSM8K, the Hub, files, reasoning-gym) into one
row schema.

    mathrl data stats --source gsm8k --split test           # counts and length statistics
    mathrl data show --source file --path problems.jsonl --limit 3

Every source yields rows `id, question, answer (normalized gold), solution, prompt (system + user turns)`: TRL hands these columns to the rewards.
"""

from __future__ import annotations

import json
import statistics

from mathrl.config import Config, DataConfig, option_type
from mathrl.data.sources import SOURCES, source_module
from mathrl.errors import DataError
from mathrl.formats import FormatSpec, get_format
from mathrl.gsm8k import MARKER, split_solution
from mathrl.stats import percentile

COLUMNS = ("id", "question", "answer", "solution", "prompt")


# --------------------------------------------------------------------------- gold answers


def gold_from_gsm8k_solution(solution: str) -> str:
    """The final answer after the `#### ` marker, normalized; raises ValueError when there is none."""
    from mathrl.parsing import canonical_answer

    final = split_solution(solution)[1]
    if final is None:
        raise ValueError("no '#### <answer>' line in the solution")
    answer = canonical_answer(final)
    if not answer:
        raise ValueError("the '####' line holds no answer")
    return answer


def _gold(value, style: str) -> tuple[str, str]:
    """(gold answer, worked solution) from an answer column written in `style`; gsm8k and final golds are numbers."""
    from mathrl.parsing import canonical_answer, extract_answer, to_number

    text = str(value).strip()
    if style == "gsm8k":
        answer = gold_from_gsm8k_solution(text)
        if to_number(answer) is None:
            raise ValueError(f"the '####' line holds {answer!r}, not a number")
        return answer, text
    if style == "boxed":
        found = extract_answer(text, rules=("boxed",))
        if found.value is None:
            raise ValueError("no \\boxed{...} answer in the solution")
        return canonical_answer(found.value), text
    if not text:
        raise ValueError("the answer is empty")
    if to_number(text) is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        worked = "; it is a worked solution ending in '#### N': use data.answer_style=gsm8k" if MARKER in text else ""
        raise ValueError(f"the answer {shown!r} is not a number under answer_style=final{worked}")
    return canonical_answer(text), ""


# --------------------------------------------------------------------------- rows


def user_turn(question: str, fmt: FormatSpec, repeat_instruction: bool) -> str:
    # The offline 135M model ignored a format asked for only in the system prompt (0 of 32 tagged); repeating it
    # in the user turn got some tagged answers, which GRPO needs to have something to reinforce.
    return f"{question}\n\n{fmt.user_hint}" if repeat_instruction else question


def make_prompt(question: str, cfg: DataConfig) -> list[dict]:
    """System and user turn for `question`: the format's system prompt unless cfg.system_prompt replaces it."""
    fmt = get_format(cfg.format)
    return [
        {"role": "system", "content": fmt.system_prompt if cfg.system_prompt is None else cfg.system_prompt},
        {"role": "user", "content": user_turn(question, fmt, cfg.instruction_in_user_turn)},
    ]


def to_rows(records: list[dict], cfg: DataConfig, source_name: str, split: str, style: str | None = None) -> list[dict]:
    """Map raw records to the row schema; a record that cannot be mapped raises DataError naming it."""
    style = style or cfg.answer_style
    if records and cfg.question_field not in records[0] or records and cfg.answer_field not in records[0]:
        raise DataError(
            f"{source_name}: rows have columns {sorted(records[0])}, not {cfg.question_field!r} and "
            f"{cfg.answer_field!r}; map them with --set data.question_field=... --set data.answer_field=..."
        )
    rows = []
    for index, record in enumerate(records):
        where = f"{source_name}: row {index + 1}"
        question = record.get(cfg.question_field)
        if question is None or record.get(cfg.answer_field) is None:
            missing = cfg.question_field if question is None else cfg.answer_field
            raise DataError(f"{where}: missing column {missing!r}")
        try:
            answer, solution = _gold(record[cfg.answer_field], style)
        except ValueError as err:
            raise DataError(f"{where}: {err}; set data.answer_style to gsm8k, final or boxed to match") from None
        solution = solution or str(record.get("solution") or "")
        rows.append({
            "id": str(record.get("id", f"{split}-{index}")),
            "question": str(question).strip(),
            "answer": answer,
            "solution": solution,
            "prompt": make_prompt(str(question).strip(), cfg),
        })
    return rows


def load_rows(cfg: DataConfig, split: str | None = None) -> list[dict]:
    """Rows for `split` (default cfg.split) from the configured source, first `cfg.limit` only."""
    split = split or cfg.split
    if cfg.source not in SOURCES:
        raise DataError(f"data.source={cfg.source!r} is not a source: choose {', '.join(list(SOURCES)[:-1])} or "
                        f"{list(SOURCES)[-1]}")
    records, name, style = source_module(cfg.source).load(cfg, split)
    if not records:
        raise DataError(f"{name}: the split {split!r} holds no rows")
    if cfg.limit is not None:
        records = records[: cfg.limit]
    return to_rows(records, cfg, name, split, style or cfg.answer_style)


def load_dataset(cfg: DataConfig, split: str | None = None):
    """The rows as a `datasets.Dataset`, the type TRL's GRPOTrainer takes."""
    from datasets import Dataset

    return Dataset.from_list(load_rows(cfg, split))


def prompt_tokens(tokenizer, prompt: list[dict]) -> int:
    """Length in tokens of a conversational prompt as the model sees it, generation prompt included."""
    return len(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=False))


def drop_long_prompts(rows: list[dict], tokenizer, max_tokens: int) -> tuple[list[dict], list[str]]:
    """(rows whose chat prompt fits max_tokens, ids dropped): TRL 1.16 has no max_prompt_length to truncate for us."""
    kept, dropped = [], []
    for row in rows:
        if prompt_tokens(tokenizer, row["prompt"]) <= max_tokens:
            kept.append(row)
        else:
            dropped.append(row["id"])
    return kept, dropped


# --------------------------------------------------------------------------- statistics


def _summary(values: list[float]) -> dict:
    return {
        "mean": round(statistics.fmean(values), 1),
        "median": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "max": max(values),
    }


def dataset_stats(rows: list[dict], tokenizer=None) -> dict:
    """Counts and length statistics (words, and tokens when a tokenizer is given) for a list of rows."""
    if not rows:
        raise DataError("no rows to describe")
    stats = {
        "rows": len(rows),
        "question_words": _summary([len(r["question"].split()) for r in rows]),
        "solution_lines": _summary([r["solution"].count("\n") for r in rows]),
        "answer_magnitude": _summary([len(r["answer"].lstrip("-").split(".")[0]) for r in rows]),
    }
    if tokenizer is not None:
        stats["prompt_tokens"] = _summary([prompt_tokens(tokenizer, r["prompt"]) for r in rows])
        stats["solution_tokens"] = _summary([len(tokenizer(r["solution"])["input_ids"]) for r in rows])
    return stats


def add_data_arguments(parser) -> None:
    parser.add_argument("action", choices=["stats", "show"], help="stats: counts and lengths; show: first rows")
    parser.add_argument("--split", help="split to read (default: the config's train split)")
    parser.add_argument("--limit", type=option_type("data.limit"), help="first N rows only (default: all; a profile's training limit is ignored)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run_data(args, cfg: Config) -> int:
    data = cfg.data
    data.limit = args.limit
    rows = load_rows(data, args.split)
    if args.action == "show":
        for row in rows[:5]:
            print(json.dumps({k: row[k] for k in ("id", "question", "answer")}, ensure_ascii=False))
        return 0
    stats = dataset_stats(rows)
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"{data.source} {args.split or data.split}: {stats['rows']} rows")
    for key, summary in stats.items():
        if isinstance(summary, dict):
            print(f"  {key:<18}" + "  ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
