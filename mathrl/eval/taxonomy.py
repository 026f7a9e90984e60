"""Error taxonomy: why a wrong answer was wrong, read from evaluation records, with counts and example ids.

Categories are tried in the order of ERROR_KINDS, so each wrong record gets exactly one.
"""

from __future__ import annotations

from collections.abc import Sequence

# Checked in this order: the first that applies names the error.
ERROR_KINDS = {
    "truncated": "ran into max_new_tokens before finishing",
    "no_answer": "no number anywhere in the completion",
    "wrong_format": "a number, but none in the format's answer field",
    "arithmetic_slip": "the stepwise checker found a wrong equation",
    "right_steps_wrong_final": "every equation checks out, yet the final answer is wrong",
    "wrong": "a well-formed, wrong answer with no checkable slip",
}


def steps_verdict(stepwise_score: float | None) -> str:
    """Read rewards.stepwise_reward's score: "none" (no equations), "slip" (a wrong step) or "sound".

    stepwise_reward pays 0.5 x (fraction of right steps) + 0.5 x (last step reaches the answer) - 0.5 if any step is
    wrong, so a score of 0.5 or more means every step is right, 0.0 means it found no equation, the rest a slip.

    >>> steps_verdict(1.0), steps_verdict(0.5), steps_verdict(0.25), steps_verdict(-0.5), steps_verdict(0.0)
    ('sound', 'sound', 'slip', 'slip', 'none')
    """
    if stepwise_score is None or stepwise_score == 0.0:
        return "none"
    return "sound" if stepwise_score >= 0.5 else "slip"


def classify(record: dict) -> str | None:
    """The error kind of one evaluation record (None when its headline answer is correct).

    >>> classify({"correct": False, "truncated": False, "strict": {"answer": None}, "flexible": {"answer": None},
    ...           "rewards": {"stepwise_reward": 0.0}})
    'no_answer'
    """
    if record["correct"]:
        return None
    if record["truncated"]:
        return "truncated"
    if record["flexible"]["answer"] is None:
        return "no_answer"
    if record["strict"]["answer"] is None:
        return "wrong_format"
    verdict = steps_verdict(record.get("rewards", {}).get("stepwise_reward"))
    if verdict == "slip":
        return "arithmetic_slip"
    if verdict == "sound":
        return "right_steps_wrong_final"
    return "wrong"


def error_table(records: Sequence[dict], examples: int = 3) -> dict:
    """Counts, share of all records, and up to `examples` example ids for each error kind.

    >>> table = error_table([{"id": "a", "correct": True}, {"id": "b", "correct": False, "truncated": True}])
    >>> table["truncated"]["count"], table["truncated"]["share"], table["truncated"]["examples"]
    (1, 0.5, ['b'])
    """
    table = {kind: {"count": 0, "share": 0.0, "meaning": meaning, "examples": []}
             for kind, meaning in ERROR_KINDS.items()}
    for record in records:
        kind = classify(record)
        if kind is None:
            continue
        entry = table[kind]
        entry["count"] += 1
        if len(entry["examples"]) < examples:
            entry["examples"].append(record["id"])
    for entry in table.values():
        entry["share"] = entry["count"] / len(records) if records else 0.0
    return table
