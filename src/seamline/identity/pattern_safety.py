"""Refusing blocked-value patterns that could stall the identity stage.

Python's `re` backtracks, so a pattern such as `(a+)+$` takes exponential time on a value like
`aaaa…a!`, and a workspace's patterns run against every identifier of every message. A pattern
is refused when a repeated group itself holds an unbounded repeat (nested quantifiers), when a
repeated group holds alternatives that may start alike (`(a|aa)+`), or when it uses a
backreference: the shapes that make backtracking explode. What is left runs
in time polynomial in the value's length, and values are bounded (1,000 characters).
"""

from __future__ import annotations

import re
from re import _constants as constants  # type: ignore[attr-defined]
from re import _parser as parser  # type: ignore[attr-defined]
from typing import Any

MAX_PATTERN_LENGTH = 200

_REPEATS = frozenset(
    {constants.MAX_REPEAT, constants.MIN_REPEAT, getattr(constants, "POSSESSIVE_REPEAT", None)}
)
_BACKREFERENCES = frozenset(
    {constants.GROUPREF, constants.GROUPREF_EXISTS, constants.GROUPREF_IGNORE}
)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` may not be a blocked-value pattern, or None when it may."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH}"
    try:
        parsed = parser.parse(pattern, re.IGNORECASE)
    except re.error as error:
        return f"is not a regular expression: {error}"
    return _problem(list(parsed), inside_repeat=False)


def _problem(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> str | None:
    for op, argument in items:
        if op in _BACKREFERENCES:
            return "uses a backreference, which can take exponential time; write it without"
        if op in _REPEATS:
            _low, high, body = argument
            repeats = high == constants.MAXREPEAT or high > 1
            if inside_repeat and high == constants.MAXREPEAT:
                return (
                    "repeats a group that itself repeats without bound (like `(a+)+`), which "
                    "can take exponential time; write it without nested quantifiers"
                )
            found = _problem(list(body), inside_repeat=inside_repeat or repeats)
            if found:
                return found
            continue
        if op == constants.BRANCH and inside_repeat and not _distinct_starts(argument[1]):
            return (
                "repeats alternatives that can start alike (like `(a|aa)+`), which can take "
                "exponential time; make each alternative start with a different character"
            )
        for nested in _subpatterns(op, argument):
            found = _problem(list(nested), inside_repeat=inside_repeat)
            if found:
                return found
    return None


def _distinct_starts(alternatives: list[Any]) -> bool:
    """Whether every alternative starts with its own literal character (so at most one of
    them can match at any place: no backtracking between them)."""
    starts = set()
    for alternative in alternatives:
        items = list(alternative)
        if not items or items[0][0] != constants.LITERAL:
            return False
        starts.add(chr(items[0][1]).lower())
    return len(starts) == len(alternatives)


def _subpatterns(op: Any, argument: Any) -> list[Any]:
    """The sub-patterns one parsed item holds (groups, alternatives, lookarounds)."""
    if op == constants.SUBPATTERN:
        return [argument[-1]]
    if op == constants.BRANCH:
        return list(argument[1])
    if op in (constants.ASSERT, constants.ASSERT_NOT):
        return [argument[1]]
    return []
