"""Tests for mathrl.parsing: numbers, answer extraction, format sections, gold rendering; hostile input throughout."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathrl.config import FORMATS
from mathrl.arithmetic import equations
from fractions import Fraction

from mathrl.formats import FormatSpec, Section
from mathrl.parsing import (
    FLEXIBLE_RULES, MAX_BLOCKS, RULES, STRICT_RULES, Extraction, Value, answer_value, as_text, canonical_answer,
    extract_answer, format_number, gold_answer, parse_sections, render_gold, to_number,
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
        ("0.1", Fraction(1, 10)),  # decimals are exact: from the digits, never through a float
        ("10000000000000001", 10000000000000001),  # past a float's 2**53, still exact
        ("1 234", 1234),  # normal spaces between thousands groups, in a whole answer
        ("1\u2009234\u2009567", 1234567),  # thin spaces
        ("1\u202f234,5", Fraction(2469, 2)),  # narrow no-break spaces, then a decimal comma
        ("- 5", -5), ("- 5 dollars", -5),  # a sign, then a space
        ("−3", -3),  # unicode minus
        ("€5", 5), ("5 €", 5), ("5$", 5),  # currency before or after
        ("15\\text{ cm}^2", 15),  # a LaTeX unit with its power
        ("1,000.99m²", Fraction(100099, 100)),  # a unit with a superscript power
        ("90^\\circ", 90),  # degrees
        ("1,5", Fraction(3, 2)),  # a decimal comma: one or two digits after it cannot be a thousands group
        ("0,111", Fraction(111, 1000)),  # a thousands group never follows a lone 0
        ("1000,99", Fraction(100099, 100)),  # nor four digits
        ("1,500", 1500),  # three digits after a comma: thousands (the English reading of the ambiguous case)
        ("12,345,678.5", Fraction(24691357, 2)),  # several groups, then a decimal point
        ("1,2,3", None),  # a list of three numbers
        ("32, 349", None),  # a comma and a space: a list, not thousands
        ("1 23", None),  # a space before a group that is not three digits: two numbers
        ("2.5e3", 2500), ("1.5E-2", Fraction(3, 200)),  # scientific notation
        ("2.5 \\times 10^{3}", 2500), ("2.5 × 10^3", 2500),  # scientific notation written out
        ("11 + 4/9", Fraction(103, 9)), ("3 * 4", 12), ("3 x 4", 12),  # plain arithmetic: 99/9 + 4/9
        ("\\frac13", Fraction(1, 3)), ("\\cfrac{1}{3}", Fraction(1, 3)),  # LaTeX fraction spellings
        ("\\boxed{\\frac{2}{3}}", Fraction(2, 3)), ("-\\frac{10}{9}", Fraction(-10, 9)),
        ("2\\frac{1}{2}", Fraction(5, 2)), ("1 1/2", Fraction(3, 2)),  # mixed numbers
        ("\\left( \\frac{1}{3} \\right)", Fraction(1, 3)),  # sizing and parentheses around it
        ("2\\pi", None), ("3\\sqrt{2}", None),  # a constant or a root after the number: not the number
        ("5 or 6", None),  # two values
    ],
)
def test_answer_value_is_exact(text, expected):
    value = answer_value(text)
    assert (value.number if value else None) == expected
    assert value is None or not value.percent
    assert value is None or type(value.number) is type(expected)  # ints and Fractions, never a float


@pytest.mark.parametrize("text", ["28%", "28 %", "28\\%", "28 percent", "28 pct", "28 percentage", "$28$ %"])
def test_answer_value_marks_percentages(text):
    assert answer_value(text) == Value(28, True)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,000", "1000"),  # separators dropped
        ("$5.00", "5"),  # currency and zeros dropped
        ("−3", "-3"),  # unicode minus becomes ASCII
        ("+7", "7"),  # plus dropped
        ("12.50", "12.5"),  # trailing zero dropped
        ("3/4", "0.75"),  # a fraction with a finite decimal becomes that decimal: one string per value
        ("2/3", "2/3"), ("4/6", "2/3"),  # one without stays an exact fraction, never a rounded decimal
        ("-1/8", "-0.125"), ("28%", "28%"),  # negative finite decimals; a percentage keeps its sign
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
        ("<answer>1 2 3 72</answer>", Extraction(None, "conflict")),  # a list names several values: a hedge
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
        ("so 10-5", Extraction("5", "last_number")),  # a minus between numbers is not a sign
        ("10-5", Extraction("10-5", "last_number")),  # a completion that is one answer is that answer: 5
        ("1 000", Extraction("1 000", "last_number")),  # its spaces group thousands
        ("AZYUK2A", Extraction(None, "none")),  # digits glued to letters are a name, not a number
        ("so H2O boils at 100", Extraction("100", "last_number")),
        ("Answer \\( (9+1) \\)", Extraction("(9+1)", "last_number")),  # the math span the last number closes
        ("The final answer is $16,\\!386.20$. I hope", Extraction("$16,386.20$", "answer_is")),  # `\\!` ends no clause
        ("owes −3", Extraction("−3", "last_number")),  # a unicode negative
        ("no digits here", Extraction(None, "none")),  # nothing to find
        (None, Extraction(None, "none")),  # junk
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text, "reasoning") == expected


@pytest.mark.parametrize(
    "text",
    [
        "<answer>18 or 19</answer>",  # in the answer field
        "#### 18 or 19",  # on the GSM8K answer line
        "\\boxed{18 or 19}",  # in a box
        "The answer is 18 or 19.",  # after "the answer is"
        "The answer is 18, 19.",  # a list after it
        "So it is 18 or 19.",  # the last number's rule
        "<answer>12 apples and 3 oranges</answer>",  # two quantities
    ],
)
def test_an_answer_naming_two_values_is_a_hedge_everywhere(text):
    assert extract_answer(text, "reasoning") == Extraction(None, "conflict")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The answer is 18, since 3*6 = 18.", Extraction("18", "answer_is")),  # the clause ends at "since"
        ("The answer is 18 apples because 3 * 6 = 18", Extraction("18 apples", "answer_is")),
        ("The final answer is 12,000,023. I hope it is correct.", Extraction("12,000,023", "answer_is")),
        ("<answer>6 * 12 = 72</answer>", Extraction("72", "answer_tag")),  # an equation: its last side
        ("<answer>19 or 19</answer>", Extraction("19", "answer_tag")),  # one value named twice is no hedge
        ("so $k = \\frac{1}{3}$", Extraction("\\frac{1}{3}", "last_number")),  # a LaTeX fraction is one number
    ],
)
def test_stated_answers_that_are_not_hedges(text, expected):
    assert extract_answer(text, "reasoning") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("THE ANSWER IS 42.", Extraction("42", "answer_is")),  # shouted
        ("the answer is 42", Extraction("42", "answer_is")),  # no full stop: the clause runs to the end
        ("answer is 7, from 3 + 4", Extraction("7", "answer_is")),  # the phrase opens the text: not the last number 4
        ("The answer is 5? No, wait: the answer is 7.", Extraction("7", "answer_is")),  # the last phrase wins
        ("The answer is: 12 apples", Extraction("12 apples", "answer_is")),  # a colon after the phrase is dropped
        ("The answer is$18$.", Extraction("$18$", "answer_is")),  # no space before the math
        ("The answer is Xavier.", Extraction("Xavier", "answer_is")),  # a word answer, graded as text
    ],
)
def test_the_answer_is_phrase(text, expected):
    assert extract_answer(text, "reasoning") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("#### 72\nwhich is 6 dozen", Extraction("72", "hash")),  # the hash line ends at its newline
        ("<answer>1 <answer>2 <answer>3</answer>", Extraction("3", "answer_tag")),  # reopened twice: the last open
        ("\\boxed{} so \\boxed{7}", Extraction("7", "boxed")),  # an empty box is passed over
        ("So it is 19 or 19.", Extraction("19", "last_number")),  # one value named twice is no hedge here either
        ("\nno digits here", Extraction(None, "none")),  # a text that opens with a blank and holds no number
        (" no digits here", Extraction(None, "none")),  # or with a space
        ("Tom had 3 apples and paid 5$", Extraction("5", "last_number")),  # a dollar after the amount opens no math
        ("so \\( 12 \\text{ cm} \\)", Extraction("12", "last_number")),  # text after the number: not the span's answer
        ("so \\( " + "x + " * 40 + "5 \\)", Extraction("5", "last_number")),  # a span opened too far back is not read
        ("so \\( 12X \\)", Extraction("12", "last_number")),  # a letter after the number: not the span's answer
        ("The total is \\( (9+1) \\) X", Extraction("1", "last_number")),  # words after the span: not the final answer
        ("so \\( \\sqrt{12}" + " " * 130 + "\\)", Extraction("\\sqrt{12}", "last_number")),  # however far the close
        ("##### \\sqrt{2}", Extraction("\\sqrt{2}", "hash")),  # a longer run of #'s is one marker: read after the run
        ("#####\nThe answer is 5", Extraction("5", "answer_is")),  # an empty line after it, as after `####`
        ("\\boxed{ " + " " * 470 + "7}", Extraction("7", "boxed")),  # a box closing within its reach (480) is read
        ("\\boxed{" + "work " * 100 + "} The total is 12.", Extraction("12", "last_number")),  # a brace beyond it is not
    ],
)
def test_where_each_rule_stops_reading(text, expected):
    assert extract_answer(text, "reasoning") == expected


@pytest.mark.parametrize("block", ["<answer>7</answer>", "#### 7\n", "\\boxed{7}"])
def test_up_to_max_blocks_agreeing_answers_count_and_one_more_is_hedging(block):
    rule = extract_answer(block, "reasoning").rule
    assert extract_answer(block * MAX_BLOCKS, "reasoning") == Extraction("7", rule)
    assert extract_answer(block * (MAX_BLOCKS + 1), "reasoning") == Extraction(None, "conflict")


@pytest.mark.parametrize("before", ["I count ", "x " * 150 + "I count "])  # the window starts near or far from 0
def test_the_last_number_is_read_whole_where_the_search_window_cuts_it(before):
    text = before + "123456 apples" + " x" * 507  # 1,024 characters from the end lands inside 123456
    assert text.index("123456") < len(text) - 1024 < text.index("123456") + 6
    assert extract_answer(text, "reasoning") == Extraction("123456", "last_number")


# Texts that end in one of these, then spaces and a word, so many that the last-number search's first window starts at
# every position around it; the first is read from the very start of a long text.
ENDINGS = [
    ("", "1000000", "1000000"),
    ("Xavier has 45 X-rays and ", "123 apples", "123"),  # words with an X before the number
    ("She had ", "18 or 19", None),  # two values: a hedge even where the window starts between them
    ("She had ", "12 or 12", "12"),  # one value named twice
    ("So it is ", "\\frac{1}{3}", "\\frac{1}{3}"),  # a LaTeX fraction is one number
    ("The sum 1+2+3 gives ", "1234567" + "!" * 300, "1234567"),  # a number glued to a long run of punctuation
]


@pytest.mark.parametrize("before, ending, expected", ENDINGS)
def test_the_last_number_is_the_same_wherever_the_search_window_starts(before, ending, expected):
    for shift in range(-3, len(ending) + 3):
        text = before + ending + " " * (1018 - len(ending) + shift) + "apples"  # the window starts `shift` characters in
        assert len(text) - 1024 == len(before) + shift
        found = extract_answer(text, "reasoning", rules=FLEXIBLE_RULES)
        assert found == (Extraction(expected, "last_number") if expected else Extraction(None, "conflict")), shift


def test_the_answer_is_clause_is_read_for_max_number_chars_and_the_word_they_cut():
    clause = "the number of marbles Tom keeps " * 4  # no clause end in it
    text = f"The answer is {clause[:110]} 123456789."
    assert text.index("123456789") < text.index("answer is") + 9 + 120 < text.index("123456789") + 9  # the number is cut
    assert extract_answer(text, "reasoning") == Extraction("123456789", "answer_is")  # never its prefix 12345678
    said = "7 " + ("apples " * 17)[:117]  # 7 and a unit word, no clause end
    beyond = f"The answer is {said} 8"  # 8 starts right after the clause's 120 characters: not part of it
    assert beyond.index(" 8") == beyond.index("answer is") + 9 + 120
    assert extract_answer(beyond, "reasoning") == Extraction(said, "answer_is")


def test_a_completion_of_max_number_chars_that_is_one_answer_is_read_whole():
    text = ("1 000 " + "dollars " * 15)[:120]  # 1000 and unit words: MAX_NUMBER_CHARS (120) characters
    assert len(text) == 120
    assert extract_answer(text, "reasoning", rules=FLEXIBLE_RULES) == Extraction(text, "last_number")  # 1000, not 000


def test_a_custom_format_is_read_by_its_own_tags():
    bold = FormatSpec("bold", (Section("reasoning", "<r>", "</r>"), Section("answer", "**", "**")), "prompt")
    text = "<r>5 + 7</r> **12** so **12**"  # the same mark opens and closes the field
    assert extract_answer(text, bold) == Extraction("12", "answer_tag")
    assert extract_answer(text, bold, STRICT_RULES) == Extraction("12", "answer_tag")


def test_an_unknown_format_name_reads_the_default_format():
    assert extract_answer("<answer>7</answer> then 9", "no-such-format") == Extraction("7", "answer_tag")


def test_extract_answer_rules_for_evaluation():
    text = "5 + 7 = 12 apples"
    assert extract_answer(text, "reasoning", STRICT_RULES) == Extraction(None, "none")  # strict: the field only
    assert extract_answer(text, "reasoning", FLEXIBLE_RULES) == Extraction("12", "last_number")  # flexible
    tagged = "<answer>3</answer> then 9"
    assert extract_answer(tagged, "reasoning", FLEXIBLE_RULES).value == "9"
    assert RULES[0] == "answer_tag" and RULES[-1] == "last_number"
    assert extract_answer("#### 4", "reasoning", "hash") == Extraction("4", "hash")  # one rule by name
    assert extract_answer("<SOLUTION>7</SOLUTION> 9", "working_out", STRICT_RULES) == Extraction("7", "answer_tag")
    with pytest.raises(ValueError, match=r"unknown extraction rule.*; known: answer_tag, hash, answer_is, boxed, last_number$"):
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
        for _ in range(3):  # the minimum of a few runs, in CPU time, resists a noisy shared machine
            started = time.process_time()
            extract_answer(sample + " ", "reasoning")  # fresh strings: the caches must not hide the work
            parse_sections(sample + " ", "reasoning")
            equations(sample + " ")
            best = min(best, time.process_time() - started)
        return best

    small, large = cost(text[: len(text) // 10]), cost(text)
    assert large < 1.0
    # quadratic would be ~100x, linear is ~10x; the 0.05 s floor covers texts the parser reads in a few milliseconds,
    # where quadratic work on 200,000 characters would still take seconds
    assert large < 40 * small + 0.05


@pytest.mark.parametrize(
    "text, side",
    [
        ("x = 72", "72"),  # the value after the equals sign
        ("a=3+4=7", "7"),  # a chain: its last side
        ("= 12", "12"),  # an answer that opens with the sign
        ("y <= 5", "y <= 5"),  # a bound, not an equation: the text itself
        ("<=5", "<=5"),  # a bound at the very start
        ("x != 3", "x != 3"),  # not equal is no equation either
        ("x = 12, which is <= 20", "12, which is <= 20"),  # the bound's 20 is never the answer
        ("a = 1, b = 2 >= 0", "2 >= 0"),  # the last equation before the bound
        ("=5 >= 4", "5 >= 4"),  # that equation at the very start
        ("a =<= 3", "<= 3"),  # an equals sign right before the bound's
        ("X=5", "5"),  # a capital letter before the sign is a variable, not an operator
        ("= 5!", "5!"),  # an exclamation after the only sign, which opens the text
    ],
)
def test_the_last_side_of_an_equation_skips_comparison_operators(text, side):
    from mathrl.parsing import _last_side

    assert _last_side(text) == side


@pytest.mark.parametrize(
    "field, expected",
    [
        ("= 3 + 4", "3 + 4"),  # the side after a leading sign, evaluated later (7)
        ("x = 12, which is <= 20", None),  # 12 and a bound of 20: two values, never paid as 20
        ("Paris", "Paris"),  # no number: the words themselves, for an exact text match
        ("Natalia sold 72 clips", "72"),  # one number among words
        ("2\\pi", "2\\pi"),  # LaTeX beyond plain numbers: whole, for math-verify, never just the 2
    ],
)
def test_a_stated_answer_field_reads_as_its_one_value(field, expected):
    found = extract_answer(f"<answer>{field}</answer>", "reasoning")
    assert found == (Extraction(expected, "answer_tag") if expected is not None else Extraction(None, "conflict"))


def test_an_answer_field_longer_than_any_number_is_passed_on_whole():
    at_limit = "Natalia sold 72 clips " + "a" * 98  # MAX_NUMBER_CHARS (120) characters: still read
    assert len(at_limit) == 120
    assert extract_answer(f"<answer>{at_limit}</answer>", "reasoning").value == "72"
    beyond = at_limit + "a"  # one more: too long to be an answer, never searched for a number
    assert extract_answer(f"<answer>{beyond}</answer>", "reasoning").value == beyond


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The total is \\( (9+1) \\)", "(9+1)"),  # the last number closes an inline span: the whole span
        ("First \\(a\\), then \\( (9+1) \\)", "(9+1)"),  # an earlier span, closed before the number, is not it
        ("So \\[ (9+1) \\]", "(9+1)"),  # display math
        ("\\(k = (9+1)\\)", "(9+1)"),  # a span that opens the text, with its last side
        ("\\[k = (9+1)\\]", "(9+1)"),  # the same in display math
        ("It costs $5, so $ (9+1) $.", "(9+1)"),  # dollar math after a currency dollar
        ("The total is $ (9+1) $$", "(9+1)"),  # a stray second dollar after the span
        ("So it is \\(\\$ (9+1)\\)", "\\$ (9+1)"),  # an escaped dollar inside an inline span
    ],
)
def test_the_last_number_closing_a_math_span_gives_the_whole_span(text, expected):
    assert extract_answer(text, "reasoning", rules=FLEXIBLE_RULES) == Extraction(expected, "last_number")
