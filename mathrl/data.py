"""Load math word problems from GSM8K (shipped copy, Hub, files) or reasoning-gym into one row schema.

Every source yields rows `id, question, answer (normalized gold), solution, prompt (system + user turns)`: TRL hands these columns to the rewards.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from mathrl import jsonl
from mathrl.arithmetic import worked_sum
from mathrl.config import Config, DataConfig, choices, option_type
from mathrl.errors import MathrlError
from mathrl.formats import FormatSpec, get_format
from mathrl.gsm8k import MARKER, split_solution
from mathrl.stats import percentile

SHIPPED_GSM8K = Path(__file__).resolve().parent.parent / "data" / "gsm8k"
COLUMNS = ("id", "question", "answer", "solution", "prompt")
GYM_TEST_TRIES = 4  # reasoning-gym problems drawn per test row wanted, before giving up on finding unseen ones


class DataError(MathrlError):
    """Input data is missing or malformed; the message names the file, the line and the problem."""


# --------------------------------------------------------------------------- raw records


FILE_TYPES = (".jsonl", ".json", ".csv", ".parquet")


def _text(path: Path) -> str:
    from mathrl.config import not_utf8

    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: {not_utf8(data, err)}") from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSONL file; a malformed line raises DataError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return [record for _, record in jsonl.parse(_text(path).splitlines(), path)]
    except jsonl.Malformed as err:
        looks_csv = err.number == 1 and "," in err.line and not err.line.lstrip().startswith(("{", "["))
        raise DataError(f"{err}{'; it looks like CSV: name the file .csv' if looks_csv else ''}") from None


def _read_json(path: Path) -> list[dict]:
    """A .json file: one array of objects, or (as many datasets ship) JSON Lines under a .json name."""
    text = _text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return read_jsonl(path)  # several objects, one a line
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected an array of objects, got a JSON {type(data).__name__}")
    bad = next((i for i, record in enumerate(data) if not isinstance(record, dict)), None)
    if bad is not None:
        raise DataError(f"{path}: item {bad + 1} of the array is a {type(data[bad]).__name__}, not an object")
    return data


def _read_csv(path: Path) -> list[dict]:
    import csv

    try:
        return [dict(record) for record in csv.DictReader(_text(path).splitlines())]
    except csv.Error as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None


def _read_parquet(path: Path) -> list[dict]:
    import pandas as pd

    try:
        return pd.read_parquet(path).to_dict("records")
    except Exception as err:  # pyarrow raises several unrelated types for a broken file
        raise DataError(f"{path}: not a readable parquet file ({err})") from None


def _read_table(path: Path) -> list[dict]:
    """Records of a .jsonl, .json (array or lines), .csv or .parquet file; any other suffix is refused by name."""
    readers = {".jsonl": read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: {path.suffix or 'a file without a suffix'} is not a data format mathrl reads; "
                        f"give {', '.join(FILE_TYPES)}")
    records = reader(path)
    if not records:
        raise DataError(f"{path}: the file holds no rows")
    return records


def _split_file(folder: Path, split: str) -> Path:
    for suffix in FILE_TYPES:
        candidate = folder / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    found = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
    raise DataError(f"{folder}: no {split}.jsonl, .json, .csv or .parquet (found: {found}); pick a split that exists")


def _read_local(path: str | Path, split: str) -> tuple[list[dict], Path]:
    path = Path(path).expanduser()
    if path.is_dir():
        path = _split_file(path, split)
    elif not path.exists():
        raise DataError(f"{path}: no such file or folder; give a folder with {split}.jsonl or a "
                        f"{', '.join(FILE_TYPES)} file")
    return _read_table(path), path


def _read_hub(hub_id: str, hub_config: str | None, split: str) -> list[dict]:
    from datasets import load_dataset

    try:
        return list(load_dataset(hub_id, hub_config, split=split))
    except Exception as err:  # datasets wraps network and lookup failures in many types
        raise DataError(
            f"could not load {hub_id!r} ({hub_config}) split {split!r} from the Hub: {err}. "
            "Offline, use data.source=gsm8k (the shipped copy) or data.path=FOLDER"
        ) from None


def _gym_items(cfg: DataConfig, size: int, seed: int):
    import reasoning_gym

    try:
        return reasoning_gym.create_dataset(cfg.gym_task, size=size, seed=seed, **cfg.gym_options)
    except (KeyError, TypeError, ValueError, AssertionError) as err:  # its option checks are bare asserts
        raise DataError(f"reasoning-gym could not build data.gym_task={cfg.gym_task!r} with data.gym_options="
                        f"{cfg.gym_options}: {err or type(err).__name__}; fix that setting") from None


def _gym_row(item: dict, method: str) -> dict:
    # basic_arithmetic comes without worked steps; written ones give the format warm-up a method to imitate
    solution = item["metadata"].get("answer_cot") or worked_sum(item["metadata"].get("expression", ""), method) or ""
    return {"question": item["question"], "answer": str(item["answer"]), "solution": solution}


def _read_reasoning_gym(cfg: DataConfig, split: str) -> list[dict]:
    train = [_gym_row(item, cfg.worked_method) for item in _gym_items(cfg, cfg.gym_size, cfg.seed)]
    if split == "train":
        return train
    # Another seed alone is not enough: one-digit sums are only 242 problems, and two seeds of 1,200 share almost all
    # of them, so "held-out" accuracy would measure recall. The test split keeps distinct problems unseen in train.
    seen, test = {row["question"] for row in train}, []
    for item in _gym_items(cfg, GYM_TEST_TRIES * cfg.gym_size, cfg.seed + 10_000):
        row = _gym_row(item, cfg.worked_method)
        if row["question"] not in seen:
            seen.add(row["question"])
            test.append(row)
            if len(test) == cfg.gym_size:
                break
    if not test:
        raise DataError(
            f"reasoning-gym {cfg.gym_task!r} with {cfg.gym_options} has no problem outside the {cfg.gym_size} training "
            "problems: widen data.gym_options (more digits or terms) or lower data.gym_size"
        )
    return test


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
    style = cfg.answer_style
    if cfg.source not in (sources := choices(DataConfig, "source")):
        raise DataError(f"data.source={cfg.source!r} is not a source: choose {', '.join(sources[:-1])} or {sources[-1]}")
    if cfg.source == "file" and cfg.path is None:
        raise DataError("data.source=file needs a file or folder: pass --path FILE (or --set data.path=FILE)")
    if cfg.source == "reasoning_gym":
        records, name, style = _read_reasoning_gym(cfg, split), f"reasoning-gym {cfg.gym_task}", "final"
        for i, record in enumerate(records):
            record["id"] = f"{cfg.gym_task}-{split}-{i}"
    elif cfg.path is not None or (cfg.source == "gsm8k" and SHIPPED_GSM8K.is_dir()):
        records, file = _read_local(cfg.path or SHIPPED_GSM8K, split)
        name = str(file)
        prefix = "gsm8k" if cfg.source == "gsm8k" else file.stem
        for i, record in enumerate(records):
            record.setdefault("id", f"{prefix}-{split}-{i}")
    else:
        records, name = _read_hub(cfg.hub_id, cfg.hub_config, split), f"{cfg.hub_id} ({split})"
        for i, record in enumerate(records):
            record.setdefault("id", f"{cfg.hub_id.split('/')[-1]}-{split}-{i}")
    if not records:
        raise DataError(f"{name}: the split {split!r} holds no rows")
    if cfg.limit is not None:
        records = records[: cfg.limit]
    return to_rows(records, cfg, name, split, style)


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
