"""The GSM8K worked-solution syntax, read and written in one place: work lines with `<<a*b=c>>` calculator
annotations, then the final answer after the last `####`. A leaf: it imports nothing of mathrl, so every layer reads it.
"""

from __future__ import annotations

import re

MARKER = "####"
ANNOTATION = re.compile(r"<<([^<>]*)>>")


def split_solution(solution: str) -> tuple[str, str | None]:
    """(work, final answer text) of a worked solution, cut at the last `####`; the answer is None without a marker.

    >>> split_solution("Half of 48 is <<48/2=24>>24.\\n#### 24")
    ('Half of 48 is <<48/2=24>>24.\\n', '24')
    >>> split_solution("72")
    ('72', None)
    """
    # The last marker, not the first: a solution that quotes "####" in its work still ends with its own answer line.
    cut = solution.rfind(MARKER)
    if cut < 0:
        return solution, None
    return solution[:cut], solution[cut + len(MARKER):].strip()


def work_lines(solution: str) -> list[str]:
    """The non-blank lines of work before the answer line, stripped.

    >>> work_lines("Half of 48 is 24.\\n\\n48+24 = 72.\\n#### 72")
    ['Half of 48 is 24.', '48+24 = 72.']
    """
    return [line.strip() for line in split_solution(solution)[0].splitlines() if line.strip()]


def annotations(text: str) -> list[str]:
    """The equations inside the text's `<<a*b=c>>` calculator annotations, in order.

    >>> annotations("2*-3 = <<2*-3=-6>>-6, then <<-6+10=4>>4")
    ['2*-3=-6', '-6+10=4']
    """
    return ANNOTATION.findall(text)


def strip_annotations(text: str) -> tuple[str, list[str]]:
    """The text without its calculator annotations, and the annotations' equations.

    >>> strip_annotations("48/2 = <<48/2=24>>24 clips")
    ('48/2 = 24 clips', ['48/2=24'])
    """
    return ANNOTATION.sub("", text), annotations(text)


def write_solution(lines: list[str], answer) -> str:
    """A worked solution in GSM8K's syntax: the lines of work, then `#### answer`.

    >>> print(write_solution(["47 + 30 = 77", "77 + 8 = 85"], 85))
    47 + 30 = 77
    77 + 8 = 85
    #### 85
    """
    return "\n".join([*lines, f"{MARKER} {answer}"])
