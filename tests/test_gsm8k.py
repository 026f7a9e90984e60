"""The GSM8K solution reader: the answer after the last `####`, the work before it, and `<<a*b=c>>` annotations."""

import json

import pytest

from mathrl.arithmetic import evaluate
from mathrl.gsm8k import annotations, split_solution, strip_annotations, work_lines, write_solution

SOLUTION = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72"


@pytest.fixture(scope="module")
def solutions(gsm8k_dir):
    return {split: [json.loads(line)["answer"] for line in (gsm8k_dir / f"{split}.jsonl").open(encoding="utf-8")]
            for split in ("train", "test")}


def test_every_real_solution_has_work_and_a_whole_number_answer(solutions):
    for split, texts in solutions.items():
        for text in texts:
            work, answer = split_solution(text)
            assert answer is not None and answer.replace(",", "").lstrip("-").isdigit(), (split, answer)
            assert len(work_lines(text)) >= 2 and "####" not in work


def test_the_real_copy_holds_27998_annotations_and_each_one_computes(solutions):
    found = {split: [a for text in texts for a in annotations(text)] for split, texts in solutions.items()}
    assert {split: len(items) for split, items in found.items()} == {"train": 23716, "test": 4282}
    floor_divisions = []
    for equation in found["train"] + found["test"]:
        left, right = equation.split("=")  # exactly one "=": a captured ">>" or a merged pair would add one
        if "//" in left:  # Python's floor division, which the evaluator refuses
            floor_divisions.append(equation)
            continue
        assert evaluate(left) == pytest.approx(evaluate(right), rel=0.01), equation  # GSM8K rounds 10/3 to 3.33
    assert floor_divisions == ["560//10=56", "180//3=60"]


def test_stripping_leaves_no_annotation_in_any_real_solution(solutions):
    for text in solutions["train"] + solutions["test"]:
        stripped, notes = strip_annotations(text)
        assert "<<" not in stripped and ">>" not in stripped
        assert notes == annotations(text)


def test_the_answer_follows_the_marker_and_the_work_precedes_it():
    assert split_solution(SOLUTION) == (SOLUTION[:SOLUTION.index("####")], "72")
    assert work_lines(SOLUTION) == SOLUTION.splitlines()[:2]
    assert split_solution("#### 1,080  \n") == ("", "1,080")


def test_without_a_marker_everything_is_work_and_there_is_no_answer():
    assert split_solution("She has 72 clips.") == ("She has 72 clips.", None)
    assert work_lines("She has 72 clips.\n\n") == ["She has 72 clips."]


def test_a_marker_with_nothing_after_it_gives_an_empty_answer_not_none():
    assert split_solution("2+2 = 4\n####") == ("2+2 = 4\n", "")


def test_with_several_markers_the_last_one_holds_the_answer():
    text = "Write #### 5 on the board.\nThen erase it.\n#### 7"
    assert split_solution(text) == ("Write #### 5 on the board.\nThen erase it.\n", "7")
    assert work_lines(text) == ["Write #### 5 on the board.", "Then erase it."]


@pytest.mark.parametrize("text, equations, stripped", [
    ("He owes 5-8 = <<5-8=-3>>-3 dollars", ["5-8=-3"], "He owes 5-8 = -3 dollars"),  # a negative result
    ("<<-3*-2=6>>6 and <<-6/-3=2>>2", ["-3*-2=6", "-6/-3=2"], "6 and 2"),  # negative operands, two in a line
    ("<<1,000+24=1,024>>1,024", ["1,000+24=1,024"], "1,024"),  # thousands commas stay inside
    ("an unclosed <<2+2=4 stays", [], "an unclosed <<2+2=4 stays"),
    ("x << 2 >> y", [" 2 "], "x  y"),  # anything between the brackets is an annotation, as GSM8K writes none else
])
def test_annotations_are_found_and_stripped(text, equations, stripped):
    assert annotations(text) == equations
    assert strip_annotations(text) == (stripped, equations)


def test_a_written_solution_reads_back_as_its_lines_and_answer():
    text = write_solution(["47 + 30 = 77", "77 + 8 = 85"], -85)
    assert text == "47 + 30 = 77\n77 + 8 = 85\n#### -85"
    assert (work_lines(text), split_solution(text)[1]) == (["47 + 30 = 77", "77 + 8 = 85"], "-85")
