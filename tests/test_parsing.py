"""Tests for mathrl.parsing: numbers, answer extraction, format sections, gold rendering; hostile input throughout."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathrl.config import FORMATS
from mathrl.arithmetic import equations
from mathrl.parsing import (
    FLEXIBLE_RULES, RULES, STRICT_RULES, Extraction, as_text, canonical_answer, extract_answer,
    format_number, gold_answer, parse_sections, render_gold, to_number,
)

SOLUTION = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("72", 72.0),  # plain integer
        ("1,000", 1000.0),  # thousands separators
        ("1,234,567.5", 1234567.5),  # separators and decimals together
        ("$5.00", 5.0),  # currency and trailing zeros
        ("\\$5", 5.0),  # LaTeX-escaped dollar
        ("50%", 50.0),  # GSM8K states percentages as the bare number
        ("−3", -3.0),  # unicode minus
        ("+7", 7.0),  # leading plus
        ("12.50", 12.5),  # trailing zero decimals
        ("72.0", 72.0),  # trailing .0
        ("3/4", 0.75),  # fraction
        ("\\frac{3}{4}", 0.75),  # LaTeX fraction without math-verify
        ("1 1/2", 1.5),  # mixed number
        ("2.5e3", 2500.0),  # scientific notation
        ("5 dollars", 5.0),  # unit word
        ("12 apples.", 12.0),  # unit word and full stop
        ("twelve", 12.0),  # number in words
        ("twenty-five", 25.0),  # hyphenated number in words
        ("one hundred and five", 105.0),  # scale words
        ("**72**", 72.0),  # markdown bold
        ("5 or 6", None),  # two numbers: no single answer
        ("1/0", None),  # division by zero
        ("1e999", None),  # overflow to infinity
        ("abc", None),  # no number
        ("", None),  # empty
        (None, None),  # not text
        ("9" * 200, None),  # longer than any answer
    ],
)
def test_to_number(text, expected):
    assert to_number(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,000", "1000"),  # separators dropped
        ("$5.00", "5"),  # currency and zeros dropped
        ("−3", "-3"),  # unicode minus becomes ASCII
        ("+7", "7"),  # plus dropped
        ("12.50", "12.5"),  # trailing zero dropped
        ("3/4", "0.75"),  # fractions become decimals: one string per value
        ("0.1", "0.1"),  # no float noise
        ("  yes ", "yes"),  # non-numeric text comes back stripped
        (None, ""),  # junk becomes empty
    ],
)
def test_canonical_answer(text, expected):
    assert canonical_answer(text) == expected


def test_gold_answer_reads_the_final_hash_line():
    assert gold_answer(SOLUTION) == "72"
    assert gold_answer("#### 1,080") == "1080"
    assert gold_answer("-7") == "-7"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<reasoning>6*12=72</reasoning><answer>72</answer>", Extraction("72", "answer_tag")),  # the format's field
        ("<answer> x = 72 </answer>", Extraction("72", "answer_tag")),  # one number inside the field
        ("<answer>1 2 3 72</answer>", Extraction("1 2 3 72", "answer_tag")),  # a list is not a number
        ("<answer>5</answer> <answer>7</answer>", Extraction(None, "conflict")),  # hedging between answers
        ("<answer>7</answer> <answer>7.0</answer>", Extraction("7.0", "answer_tag")),  # repeats that agree
        ("<answer><answer>7</answer></answer>", Extraction("7", "answer_tag")),  # nested tags: innermost block
        ("<answer>7", Extraction("7", "last_number")),  # unclosed field falls through
        ("blah\n#### 1,000\n", Extraction("1,000", "hash")),  # GSM8K style
        ("So the answer is 18, since 3*6=18", Extraction("18", "answer_is")),  # phrase
        ("The answer is \\boxed{\\frac{1}{2}}.", Extraction("\\frac{1}{2}", "boxed")),  # boxed read whole
        ("\\boxed{3} and \\boxed{4}", Extraction(None, "conflict")),  # disagreeing boxes
        ("\\boxed{" + "x" * 600 + " so \\boxed{9}", Extraction("9", "boxed")),  # an unclosed box hides nothing after it
        ("The Answer is 42.", Extraction("42", "answer_is")),  # capitalized phrase
        ("5 + 7 = 12 apples", Extraction("12", "last_number")),  # last number
        ("10-5", Extraction("5", "last_number")),  # a minus between numbers is not a sign
        ("owes −3", Extraction("−3", "last_number")),  # a unicode negative
        ("no digits here", Extraction(None, "none")),  # nothing to find
        (None, Extraction(None, "none")),  # junk
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text, "reasoning") == expected


def test_extract_answer_rules_for_evaluation():
    text = "5 + 7 = 12 apples"
    assert extract_answer(text, "reasoning", STRICT_RULES) == Extraction(None, "none")  # strict: the field only
    assert extract_answer(text, "reasoning", FLEXIBLE_RULES) == Extraction("12", "last_number")  # flexible
    tagged = "<answer>3</answer> then 9"
    assert extract_answer(tagged, "reasoning", FLEXIBLE_RULES).value == "9"
    assert RULES[0] == "answer_tag" and RULES[-1] == "last_number"
    assert extract_answer("#### 4", "reasoning", "hash") == Extraction("4", "hash")  # one rule by name
    with pytest.raises(ValueError, match="unknown extraction rule"):
        extract_answer(text, "reasoning", ("answer_tags",))  # a typo fails loudly, not as "no answer"


@pytest.mark.parametrize("name", list(FORMATS))
def test_extract_answer_reads_each_formats_field(name):
    assert extract_answer(render_gold(SOLUTION, name), name) == Extraction("72", "answer_tag")


@pytest.mark.parametrize(
    "text, in_order, strict, trailing",
    [
        ("<reasoning>\nr\n</reasoning>\n<answer>\n7\n</answer>\n", True, True, 0),  # the taught layout
        ("<reasoning>r</reasoning><answer>7</answer>", True, True, 0),  # whitespace is optional
        ("Sure! <reasoning>r</reasoning><answer>7</answer>", True, False, 0),  # text before: soft only
        ("<reasoning>r</reasoning> so <answer>7</answer>", True, False, 0),  # text between: soft only
        ("<reasoning>r</reasoning><answer>7</answer> bye", True, False, 3),  # text after: counted
        ("<reasoning></reasoning><answer>7</answer>", True, False, 0),  # empty reasoning is not strict
        ("<reasoning>r <answer>1</answer></reasoning><answer>7</answer>", True, False, 0),  # a repeated tag
        ("<answer>7</answer><reasoning>r</reasoning>", False, False, -1),  # wrong order
        ("<reasoning>r</reasoning>", False, False, -1),  # missing answer
        ("", False, False, -1),  # empty
    ],
)
def test_parse_sections(text, in_order, strict, trailing):
    sections = parse_sections(text, "reasoning")
    assert (sections.in_order, sections.strict, sections.trailing) == (in_order, strict, trailing)


def test_parse_sections_stepwise_answer_runs_to_end_of_line():
    text = "<begin_steps>\n<STEP 1> a @@@@ 2*3 = 6 @@@@ </STEP>\n</end_steps>\n#### 6\n"
    sections = parse_sections(text, "stepwise")
    assert sections.strict and sections.get("answer").strip() == "6"
    assert not parse_sections(text + "more text", "stepwise").strict


def test_render_gold_writes_every_format():
    assert render_gold(SOLUTION, "reasoning") == (
        "<reasoning>\nNatalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.\n</reasoning>\n"
        "<answer>\n72\n</answer>"
    )
    assert render_gold(SOLUTION, "think").endswith("altogether.</think><answer>72</answer>")
    assert render_gold(SOLUTION, "working_out").endswith("<end_working_out>\n<SOLUTION>72</SOLUTION>")
    assert "<output>\nThe answer is 72.\n</output>" in render_gold(SOLUTION, "output")
    assert render_gold(SOLUTION, "stepwise").splitlines() == [
        "<begin_steps>",
        "<STEP 1> Natalia sold 48/2 = 24 clips in May. @@@@ 48/2 = 24 @@@@ </STEP>",
        "<STEP 2> Natalia sold 48+24 = 72 clips altogether. @@@@ 48+24 = 72 @@@@ </STEP>",
        "</end_steps>",
        "#### 72",
    ]


def test_as_text_reads_every_completion_shape():
    assert as_text([{"role": "assistant", "content": "hi"}]) == "hi"  # conversational
    assert as_text([{"role": "tool", "content": "42"}, {"role": "assistant", "content": "7"}]) == "7"  # tools skipped
    assert as_text([{"role": "assistant", "content": [{"type": "text", "text": "7"}]}]) == "7"  # content parts
    assert as_text(b"\xff7") == "\ufffd7"  # undecodable bytes
    assert as_text(object()) == ""  # anything else


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.none(), st.integers()), st.sampled_from(list(FORMATS)))
def test_parser_never_raises(junk, name):
    extraction = extract_answer(junk, name)
    assert extraction.rule in RULES + ("none", "conflict")
    assert isinstance(parse_sections(junk, name).in_order, bool)
    assert isinstance(canonical_answer(junk), str)
    assert isinstance(equations(junk), list)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).map(lambda x: round(x, 6)))
def test_canonical_numbers_round_trip(value):
    assert to_number(format_number(value)) == pytest.approx(value, rel=1e-9, abs=1e-9)
    assert canonical_answer(canonical_answer(str(value))) == canonical_answer(str(value))


HOSTILE = [
    "<answer>" * 40_000,  # endless opens
    "\\boxed{" * 30_000,  # unclosed boxes
    "=" * 200_000,  # equals with nothing around them
    "(" * 200_000,  # deep nesting bait
    "1," * 100_000,  # a number that never ends
    "9" * 100_000 + "=" + "9" * 100_000,  # huge equation
    "<reasoning>" + "1+1=2 " * 30_000 + "</reasoning><answer>2</answer>",  # long honest-looking reasoning
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_parser_is_linear_on_hostile_text(text):
    def cost(sample: str) -> float:
        best = float("inf")
        for _ in range(3):  # the minimum of a few runs resists a noisy shared machine
            started = time.perf_counter()
            extract_answer(sample + " ", "reasoning")  # fresh strings: the caches must not hide the work
            parse_sections(sample + " ", "reasoning")
            equations(sample + " ")
            best = min(best, time.perf_counter() - started)
        return best

    small, large = cost(text[: len(text) // 10]), cost(text)
    assert large < 1.0
    assert large < 40 * small + 0.02  # quadratic would be ~100x; linear is ~10x
