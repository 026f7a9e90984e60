"""Data layer: every loader yields the same row schema, the shipped copy is exact, bad input names file and line."""

import hashlib
import json
import re

import numpy as np
import pytest

from mathrl.arithmetic import equations
from mathrl.config import DataConfig, get_format
from mathrl.data.load import (
    COLUMNS, DataError, dataset_stats, drop_long_prompts, gold_from_gsm8k_solution, load_dataset, load_rows,
)

SHA256 = {  # from ../shared/data/gsm8k/README.md
    "train.jsonl": "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
    "test.jsonl": "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
}


def test_shipped_copy_is_byte_identical(gsm8k_dir):
    for name, digest in SHA256.items():
        assert hashlib.sha256((gsm8k_dir / name).read_bytes()).hexdigest() == digest
    assert (gsm8k_dir / "LICENSE").read_text().startswith("MIT")


def test_all_8792_gold_answers_parse(gsm8k_dir):
    train = load_rows(DataConfig(path=str(gsm8k_dir)), "train")
    test = load_rows(DataConfig(path=str(gsm8k_dir)), "test")
    assert (len(train), len(test)) == (7473, 1319)
    for row in train + test:
        assert set(row) == set(COLUMNS)
        # every GSM8K final answer is a plain number once normalized: digits, at most one sign and one point
        assert re.fullmatch(r"-?\d+(\.\d+)?", row["answer"]), row
    assert len({r["id"] for r in train + test}) == 8792


def test_default_source_is_the_shipped_copy_with_prompts_in_the_chosen_format():
    rows = load_rows(DataConfig(limit=3, format="think"), "test")
    first = rows[0]
    assert first["id"] == "gsm8k-test-0"
    assert first["answer"] == "18"  # Janet's ducks: 16 - 3 - 4 = 9 eggs at $2
    assert first["solution"].rstrip().endswith("#### 18")
    system, user = first["prompt"]
    assert system == {"role": "system", "content": get_format("think").system_prompt}
    assert user["role"] == "user" and user["content"].startswith(first["question"])
    assert "<think>" in user["content"]  # the format is repeated in the user turn for small models


def test_instruction_can_stay_in_the_system_prompt_only():
    row = load_rows(DataConfig(limit=1, instruction_in_user_turn=False), "test")[0]
    assert row["prompt"][1]["content"] == row["question"]


def test_a_configured_system_prompt_replaces_the_formats_own():
    short = "Reply as <reasoning>...</reasoning> <answer>N</answer>."
    row = load_rows(DataConfig(limit=1, system_prompt=short, instruction_in_user_turn=False), "test")[0]
    assert row["prompt"] == [{"role": "system", "content": short}, {"role": "user", "content": row["question"]}]


@pytest.mark.parametrize("solution, gold", [
    ("5 + 5 = 10\n#### 10", "10"),
    ("big\n#### 1,000", "1000"),  # thousands separators go
    ("#### -3", "-3"),
])
def test_gold_from_gsm8k_solution(solution, gold):
    assert gold_from_gsm8k_solution(solution) == gold


def test_local_parquet_and_field_mapping_with_final_answers(tmp_path):
    import pandas as pd

    pd.DataFrame({"problem": ["What is 2+2?", "Half of 9?"], "final": ["4", "4.5"]}).to_parquet(tmp_path / "train.parquet")
    cfg = DataConfig(source="file", path=str(tmp_path), question_field="problem", answer_field="final",
                     answer_style="final")
    rows = load_rows(cfg)
    assert [r["answer"] for r in rows] == ["4", "4.5"]
    assert [r["question"] for r in rows] == ["What is 2+2?", "Half of 9?"]
    assert rows[0]["id"] == "train-train-0"


def test_boxed_answers_from_a_math_style_file(tmp_path):
    path = tmp_path / "math.jsonl"
    path.write_text(json.dumps({"problem": "1/2+1/4?", "solution": "We add: $\\boxed{\\frac{3}{4}}$."}) + "\n")
    cfg = DataConfig(source="file", path=str(path), question_field="problem", answer_field="solution",
                     answer_style="boxed")
    row = load_rows(cfg)[0]
    assert row["answer"] in ("\\frac{3}{4}", "3/4", "0.75")
    assert "boxed" in row["solution"]


def test_reasoning_gym_rows_are_reproducible_and_disjoint_between_splits():
    cfg = DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=20,
                     gym_options={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1})
    train, again, test = load_rows(cfg, "train"), load_rows(cfg, "train"), load_rows(cfg, "test")
    assert train == again
    assert len(train) == 20 and all(r["question"].startswith("Calculate") for r in train)
    assert train != test
    assert {r["id"] for r in train}.isdisjoint({r["id"] for r in test})


def test_reasoning_gym_test_split_holds_distinct_problems_unseen_in_train():
    # 242 one-digit sums and differences: two seeds of 200 would share most of them
    cfg = DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=200,
                     gym_options={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1,
                                  "operators": ["+", "-"], "allow_parentheses": False})
    train, test = load_rows(cfg, "train"), load_rows(cfg, "test")
    questions = [r["question"] for r in test]
    assert 0 < len(test) < 200 and len(set(questions)) == len(questions)
    assert set(questions).isdisjoint(r["question"] for r in train)


def test_reasoning_gym_without_unseen_problems_says_how_to_widen():
    cfg = DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=3000,
                     gym_options={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1, "operators": ["+"],
                                  "allow_parentheses": False})
    assert len(load_rows(cfg, "train")) == 3000
    with pytest.raises(DataError, match="widen data.gym_options"):
        load_rows(cfg, "test")


@pytest.mark.parametrize("terms, digits", [(2, 2), (4, 3)])
def test_sums_and_differences_carry_worked_steps_that_check_out(terms, digits):

    cfg = DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=50,
                     gym_options={"min_terms": terms, "max_terms": terms, "min_digits": digits, "max_digits": digits,
                                  "operators": ["+", "-"], "allow_parentheses": False})
    rows = load_rows(cfg, "train")
    for row in rows:
        steps = equations(row["solution"])
        assert len(steps) >= terms - 1 and all(lhs == rhs for lhs, rhs, _ in steps), row
        assert gold_from_gsm8k_solution(row["solution"]) == row["answer"]
    assert any(len(equations(r["solution"])) == 2 * (terms - 1) for r in rows)  # each term tens first, then ones


def test_sums_can_be_worked_by_place_value():
    options = {"min_terms": 2, "max_terms": 2, "min_digits": 2, "max_digits": 2, "operators": ["+", "-"],
               "allow_parentheses": False}
    tens = load_rows(DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=20, gym_options=options))
    place = load_rows(DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=20, gym_options=options,
                                 worked_method="place_value"))
    assert [r["question"] for r in place] == [r["question"] for r in tens]
    for row in place:
        steps = equations(row["solution"])
        assert len(steps) == 3 and all(lhs == rhs for lhs, rhs, _ in steps) and steps[-1][1] == float(row["answer"])


def test_gsm_symbolic_rows_carry_worked_solutions():
    row = load_rows(DataConfig(source="reasoning_gym", gym_task="gsm_symbolic", gym_size=2))[0]
    # reasoning-gym writes them in GSM8K's own form, ending "#### <answer>"; the gold is that final line's number
    assert row["solution"].rsplit("\n#### ", 1)[1] == row["answer"] and row["answer"].isdigit()


# --------------------------------------------------------------------------- bad input


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("", "holds no rows"),  # empty file
    ('{"question": "q", "answer": "#### 1"}\n{"question": \n', ":2: malformed JSON"),  # broken second line
    ('[1, 2]\n', ":1: expected a JSON object"),
    ('{"question": "q", "answer": "no marker"}\n', "row 1: no '#### <answer>' line"),
    ('{"question": "q"}\n', "not 'question' and 'answer'"),  # missing column
    ('{"question": "q", "answer": "#### 1"}\n{"question": "q2"}\n', "row 2: missing column 'answer'"),
])
def test_bad_files_name_the_file_line_and_problem(tmp_path, text, message):
    path = _write(tmp_path, "train.jsonl", text)
    with pytest.raises(DataError) as err:
        load_rows(DataConfig(source="file", path=str(path)))
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_missing_split(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_rows(DataConfig(source="file", path=str(tmp_path / "absent.jsonl")))
    _write(tmp_path, "train.jsonl", '{"question": "q", "answer": "#### 1"}\n')
    with pytest.raises(DataError, match=r"no validation.jsonl, .json, .csv or .parquet \(found: train.jsonl\)"):
        load_rows(DataConfig(source="file", path=str(tmp_path)), "validation")


@pytest.mark.parametrize("name, text", [
    ("train.jsonl", '{"question": "What is 2+2?", "answer": "4"}\n{"question": "Half of 9?", "answer": "4.5"}\n'),
    ("train.json", '[{"question": "What is 2+2?", "answer": "4"}, {"question": "Half of 9?", "answer": "4.5"}]'),
    ("train.json", '{"question": "What is 2+2?", "answer": "4"}\n{"question": "Half of 9?", "answer": "4.5"}\n'),
    ("train.csv", 'question,answer\nWhat is 2+2?,4\n"Half of 9, exactly?",4.5\n'),  # a quoted comma stays
])
def test_every_accepted_file_type_reads_the_same_rows(tmp_path, name, text):
    rows = load_rows(DataConfig(source="file", path=str(_write(tmp_path, name, text)), answer_style="final"))
    assert [r["answer"] for r in rows] == ["4", "4.5"]
    assert rows[0]["question"] == "What is 2+2?" and rows[1]["question"].startswith("Half of 9")
    folder = load_rows(DataConfig(source="file", path=str(tmp_path), answer_style="final"))  # found by split name
    assert [r["answer"] for r in folder] == ["4", "4.5"]


@pytest.mark.parametrize("name, content, message", [
    ("train.jsonl", "question,answer\nWhat is 2+2?,4\n", r":1: malformed JSON .*looks like CSV: name the file .csv"),
    ("train.xlsx", "PK", r"\.xlsx is not a data format mathrl reads; give \.jsonl, \.json, \.csv, \.parquet"),
    ("train.json", '{"rows": 3}\n"x"', r":2: expected a JSON object, got str"),  # lines, not one array
    ("train.json", '[{"question": "q", "answer": "1"}, 7]', r"item 2 of the array is a int, not an object"),
    ("train.jsonl", b'{"question": "caf\xe9", "answer": "#### 1"}\n', r"line 1 is not UTF-8 text \(byte 0xe9\)"),
    ("train.parquet", "not parquet", r"not a readable parquet file"),
])
def test_unreadable_files_are_refused_by_name(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message) as err:
        load_rows(DataConfig(source="file", path=str(path)))
    assert str(path) in str(err.value)


@pytest.mark.parametrize("answer, style, message", [
    ("banana", "final", r"row 2: the answer 'banana' is not a number under answer_style=final"),
    ("#### banana", "gsm8k", r"row 2: the '####' line holds 'banana', not a number"),
    # a GSM8K worked solution read as a final answer would make the whole solution the gold
    ("She has 3 + 4 = 7 apples.\n#### 7", "final", r"row 2: .*is a worked solution ending in '#### N': use "
                                                    r"data.answer_style=gsm8k"),
])
def test_a_gold_answer_that_is_not_a_number_is_refused_with_its_row(tmp_path, answer, style, message):
    lines = [{"question": "q1", "answer": "#### 1" if style == "gsm8k" else "1"}, {"question": "q2", "answer": answer}]
    path = _write(tmp_path, "train.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(DataError, match=message):
        load_rows(DataConfig(source="file", path=str(path), answer_style=style))


def test_shipped_gsm8k_under_answer_style_final_is_refused(gsm8k_dir):
    with pytest.raises(DataError, match="row 1: .*use data.answer_style=gsm8k"):
        load_rows(DataConfig(path=str(gsm8k_dir), answer_style="final", limit=3))


@pytest.mark.parametrize("cfg, message", [
    (DataConfig(source="file"), "data.source=file needs a file or folder: pass --path"),
    (DataConfig(source="huggingface"), "data.source='huggingface' is not a source: choose gsm8k, hub"),
])
def test_a_source_that_cannot_be_read_is_refused_before_the_hub(cfg, message, monkeypatch):
    import mathrl.data.sources.hub

    monkeypatch.setattr(mathrl.data.sources.hub, "read_hub", lambda *a: pytest.fail("went to the Hub"))
    with pytest.raises(DataError, match=message):
        load_rows(cfg)


def test_reasoning_gym_option_errors_name_the_setting():
    # basic_arithmetic checks its options with bare asserts
    with pytest.raises(DataError, match=r"data.gym_options=\{'min_terms': 5, 'max_terms': 2\}: max_terms must be >= "
                                        r"min_terms; fix that setting"):
        load_rows(DataConfig(source="reasoning_gym", gym_task="basic_arithmetic", gym_size=2,
                             gym_options={"min_terms": 5, "max_terms": 2}))


def test_unknown_reasoning_gym_task():
    with pytest.raises(DataError, match="reasoning-gym could not build"):
        load_rows(DataConfig(source="reasoning_gym", gym_task="no_such_task", gym_size=2))


# --------------------------------------------------------------------------- tokens and stats


def test_long_prompts_are_dropped_and_reported(offline_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(offline_model_dir)
    rows = load_rows(DataConfig(limit=20), "test")
    lengths = [len(tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, return_dict=False))
               for r in rows]
    budget = sorted(lengths)[10]
    kept, dropped = drop_long_prompts(rows, tokenizer, budget)
    assert len(kept) + len(dropped) == 20 and dropped
    assert {r["id"] for r in kept}.isdisjoint(dropped)
    assert len(kept) == sum(length <= budget for length in lengths)


def test_stats_median_and_p95_interpolate_like_numpy():
    rows = load_rows(DataConfig(limit=30), "test")
    words = [len(r["question"].split()) for r in rows]
    summary = dataset_stats(rows)["question_words"]
    # both are rounded to one decimal
    assert summary["median"] == pytest.approx(np.median(words), abs=0.051)
    assert summary["p95"] == pytest.approx(np.percentile(words, 95), abs=0.051)
    assert summary["max"] == max(words)


def test_stats_and_datasets_type(offline_model_dir):
    from transformers import AutoTokenizer

    rows = load_rows(DataConfig(limit=50), "test")
    stats = dataset_stats(rows, AutoTokenizer.from_pretrained(offline_model_dir))
    assert stats["prompt_tokens"]["median"] > stats["question_words"]["median"]  # system prompt + chat markup
    assert stats["rows"] == 50
    assert stats["question_words"]["max"] >= stats["question_words"]["median"] > 0
    ds = load_dataset(DataConfig(limit=5), "test")
    assert ds.column_names == list(COLUMNS) and len(ds) == 5
