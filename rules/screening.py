"""甄别 keyword matching with context: a keyword proposes a screening rule only where it is meant.

A keyword occurrence does not count when (rules data, ``screening_context`` and each rule's own lists):
- a negation or hypothetical cue stands before it in its clause (不想起诉, 没有起火, 万一起火, 差点追尾);
- an exclusion phrase stands within ``window`` characters of it (火灾隐患, 逃生演练, 已经报过警, 去年);
- it lies inside quotation marks (物业说“有本事你去起诉”), when ``quoted`` is on;
- 过 follows it as the past-experience marker (晕倒过一次, 仲裁过), when ``past`` is on — but not 过来 / 过去,
  which are directions (持刀过来, 晕倒过去);
- the rule names ``near`` phrases and none stands within ``window`` characters.
A match only proposes: the intake operator or a supervisor confirms or overrules it (the workflow waits).
Pure functions, no IO.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rules.schema import ScreeningContext, ScreeningRule

CLAUSE_BREAKS = re.compile(r"[，,。．.！!？?；;：:\n]")
OPEN_QUOTES, CLOSE_QUOTES = "“「『\"‘", "”」』\"’"
DIRECTIONS = ("过来", "过去")


def occurrences(text: str, word: str) -> Iterator[int]:
    """Every start index of ``word`` in ``text``."""
    start = text.find(word)
    while start >= 0:
        yield start
        start = text.find(word, start + 1)


def clause_start(text: str, at: int) -> int:
    """Where the clause holding index ``at`` begins."""
    breaks = [m.end() for m in CLAUSE_BREAKS.finditer(text, 0, at)]
    return breaks[-1] if breaks else 0


def quoted(text: str, at: int) -> bool:
    """Index ``at`` lies inside an open quotation."""
    depth = 0
    for ch in text[:at]:
        if ch in OPEN_QUOTES and (ch != '"' or depth == 0):
            depth += 1
        elif ch in CLOSE_QUOTES and depth:
            depth -= 1
    return depth > 0


def negated(before: str, cues: list[str], exceptions: list[str], window: int) -> bool:
    """A cue stands in the last ``window`` characters of ``before`` (the clause up to the keyword), once the
    exception phrases (是不是: a question, not a negation) are taken out."""
    for phrase in exceptions:
        before = before.replace(phrase, "\x00" * len(phrase))
    before = before[-window:]
    return any(cue in before for cue in cues)


def counts(text: str, at: int, word: str, rule: ScreeningRule, ctx: ScreeningContext) -> bool:
    """The occurrence of ``word`` at ``at`` is meant as the rule means it."""
    end = at + len(word)
    before = text[clause_start(text, at):at]
    if negated(before, ctx.negations + rule.negations, ctx.negation_exceptions, ctx.negation_window):
        return False
    around = text[max(0, at - ctx.window):end + ctx.window]
    if any(phrase in around for phrase in ctx.exclude + rule.exclude):
        return False
    if ctx.quoted and quoted(text, at):
        return False
    if ctx.past and text.startswith("过", end) and not text.startswith(DIRECTIONS, end):
        return False
    return not rule.near or any(phrase in around for phrase in rule.near)


def matched_keyword(rule: ScreeningRule, text: str, ctx: ScreeningContext) -> str | None:
    """The first keyword of ``rule`` that occurs in ``text`` in the sense the rule means, or None."""
    for word in rule.keywords:
        if any(counts(text, at, word, rule, ctx) for at in occurrences(text, word)):
            return word
    return None
