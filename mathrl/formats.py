"""Output formats: each format's tagged sections, the system prompt that teaches it, and the hint in the user turn.

The parser reads completions by these specs and renders gold solutions in them; config names one by `data.format`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mathrl.errors import ConfigError


@dataclass(frozen=True)
class Section:
    """One tagged region of a completion. An empty `close` means the section runs to the end of its line."""

    name: str
    open: str
    close: str


@dataclass(frozen=True)
class FormatSpec:
    """An output format: its tagged sections in order, and the system prompt that teaches it."""

    name: str
    sections: tuple[Section, ...]
    system_prompt: str
    separator: str = "\n"
    description: str = ""

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    @property
    def answer(self) -> Section:
        return self.section("answer")

    @property
    def reasoning(self) -> Section:
        return self.sections[0]

    @property
    def user_hint(self) -> str:
        """The one-line format reminder repeated in the user turn."""
        shown = " ".join(f"{s.open}...{s.close}" if s.close else f"{s.open} N" for s in self.sections)
        return f"Answer in this format: {shown}"

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(t for s in self.sections for t in (s.open, s.close) if t)


def _prompt(example: str, rules: str) -> str:
    return (
        "You are a careful math tutor. Solve the problem step by step.\n"
        f"{rules}\nRespond in exactly this format:\n{example}"
    )


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            name="reasoning",
            sections=(Section("reasoning", "<reasoning>", "</reasoning>"), Section("answer", "<answer>", "</answer>")),
            system_prompt=_prompt(
                "<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>",
                "Put your working inside <reasoning> tags and only the final number inside <answer> tags.",
            ),
            description="<reasoning>…</reasoning> then <answer>…</answer> (default)",
        ),
        FormatSpec(
            name="think",
            sections=(Section("reasoning", "<think>", "</think>"), Section("answer", "<answer>", "</answer>")),
            system_prompt=_prompt(
                "<think>...</think><answer>...</answer>",
                "Think inside <think> tags, then give only the final number inside <answer> tags.",
            ),
            separator="",
            description="<think>…</think><answer>…</answer> (R1 style)",
        ),
        FormatSpec(
            name="working_out",
            sections=(
                Section("reasoning", "<start_working_out>", "<end_working_out>"),
                Section("answer", "<SOLUTION>", "</SOLUTION>"),
            ),
            system_prompt=_prompt(
                "<start_working_out>\n...\n<end_working_out>\n<SOLUTION>...</SOLUTION>",
                "Work the problem out between <start_working_out> and <end_working_out>, "
                "then give only the final number between <SOLUTION> and </SOLUTION>.",
            ),
            description="<start_working_out>…<end_working_out> then <SOLUTION>…</SOLUTION>",
        ),
        FormatSpec(
            name="output",
            sections=(
                Section("reasoning", "<reasoning>", "</reasoning>"),
                Section("output", "<output>", "</output>"),
                Section("answer", "<answer>", "</answer>"),
            ),
            system_prompt=_prompt(
                "<reasoning>\n...\n</reasoning>\n<output>\n...\n</output>\n<answer>\n...\n</answer>",
                "Put your working inside <reasoning> tags, one short sentence stating the result inside <output> "
                "tags, and only the final number inside <answer> tags.",
            ),
            description="<reasoning>…</reasoning> <output>…</output> <answer>…</answer>",
        ),
        FormatSpec(
            name="stepwise",
            sections=(Section("reasoning", "<begin_steps>", "</end_steps>"), Section("answer", "####", "")),
            system_prompt=_prompt(
                "<begin_steps>\n<STEP 1> explanation @@@@ a * b = c @@@@ </STEP>\n...\n</end_steps>\n#### N",
                "Write each step as <STEP n>, a short explanation, its equation between @@@@ markers, and </STEP>. "
                "After </end_steps> write #### and the final number.",
            ),
            description="<begin_steps> <STEP n> … @@@@ a * b = c @@@@ </STEP> </end_steps> then #### N",
        ),
    )
}
DEFAULT_FORMAT = "reasoning"


def get_format(name: str) -> FormatSpec:
    if name not in FORMATS:
        raise ConfigError(f"unknown format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]
