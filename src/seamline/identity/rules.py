"""Identity Resolution settings: per identifier type a priority and a limit, and blocked values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import msgspec


class IdentifierRule(msgspec.Struct, frozen=True):
    """How one identifier type behaves.

    `priority`: 1 is the most trusted; when a merge would break a limit, identifiers of the
    lowest priority (highest number) are dropped from the message first. `limit`: how many
    values of this type one profile may hold (None: unlimited), counting only values seen in
    the last `window_seconds` when that is set.
    """

    priority: int
    limit: int | None = None
    window_seconds: int | None = None


WEEK = 7 * 24 * 3600

DEFAULT_RULES: Mapping[str, IdentifierRule] = {
    "user_id": IdentifierRule(priority=1, limit=1),
    "email": IdentifierRule(priority=2, limit=5),
    # Then alphabetical, as Segment ranks identifiers it has no explicit priority for.
    "android.id": IdentifierRule(priority=3, limit=5),
    "android.idfa": IdentifierRule(priority=4, limit=5),
    "android.push_token": IdentifierRule(priority=5, limit=5),
    # Cookies churn: five anonymous ids per week, not five ever (Segment's recommendation).
    "anonymous_id": IdentifierRule(priority=6, limit=5, window_seconds=WEEK),
    "device_id": IdentifierRule(priority=7, limit=5),
    "ga_client_id": IdentifierRule(priority=8, limit=5, window_seconds=WEEK),
    "ios.id": IdentifierRule(priority=9, limit=5),
    "ios.idfa": IdentifierRule(priority=10, limit=5),
    "ios.push_token": IdentifierRule(priority=11, limit=5),
    "phone": IdentifierRule(priority=12, limit=5),
}
"""Defaults modelled on Segment's: one user_id per profile, five of every other type (anonymous
ids per week); priority user_id, email, then alphabetical. Types not listed (custom external
ids) get `CUSTOM_RULE`: after the built-in ones, alphabetically among themselves
(`IdentityRules.rank`)."""

CUSTOM_RULE = IdentifierRule(priority=50, limit=5)
"""The rule of a type the rules do not list, and the base of one given only a limit: its
priority follows every built-in type's; equal priorities rank by name."""

DEFAULT_BLOCKED = (
    "",
    "null",
    "undefined",
    "unknown",
    "anonymous",
    "0",
    "-1",
    "none",
    "nil",
    "n/a",
    "na",
    "[object object]",
    # What iOS and Android report as the advertising id when the user limits ad tracking.
    "00000000-0000-0000-0000-000000000000",
)
"""Values that are never identifiers, compared after normalisation (case-insensitively)."""


class IdentityRules:
    """The rules in force for a workspace."""

    def __init__(
        self,
        rules: Mapping[str, IdentifierRule] | None = None,
        *,
        blocked_values: Iterable[str] = DEFAULT_BLOCKED,
        blocked_patterns: Iterable[str] = (),
        custom: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._rules = dict(DEFAULT_RULES if rules is None else rules)
        self._blocked = frozenset(value.strip().lower() for value in blocked_values)
        self._patterns = tuple(re.compile(pattern, re.IGNORECASE) for pattern in blocked_patterns)
        self.custom: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (name, tuple(path.split("."))) for name, path in custom
        )
        self._limited = frozenset(n for n, r in self._rules.items() if r.limit is not None)
        self._windowed = frozenset(
            n for n, r in self._rules.items() if r.window_seconds is not None
        )

    def rule(self, id_type: str) -> IdentifierRule:
        return self._rules.get(id_type, CUSTOM_RULE)

    def priority(self, id_type: str) -> int:
        """1 is the most trusted; a type without a priority of its own has `CUSTOM_RULE`'s."""
        return self._rules.get(id_type, CUSTOM_RULE).priority

    def rank(self, id_type: str) -> tuple[int, str]:
        """Where `id_type` sorts, most trusted first: by priority, then by name, so custom types
        without a priority of their own follow the built-in ones alphabetically (Segment's
        order)."""
        return (self._rules.get(id_type, CUSTOM_RULE).priority, id_type)

    def listed(self) -> list[tuple[str, IdentifierRule]]:
        """Every type with a rule of its own (and each custom type), most trusted first."""
        names = set(self._rules) | {name for name, _ in self.custom}
        return [(name, self.rule(name)) for name in sorted(names, key=self.rank)]

    def limited_types(self) -> frozenset[str]:
        """Types with a limit: only their values matter when checking a merge."""
        return self._limited

    def windowed_types(self) -> frozenset[str]:
        """Types whose limit counts only recently seen values (their last-seen time is kept)."""
        return self._windowed

    def is_blocked(self, value: str) -> bool:
        if value.strip().lower() in self._blocked:
            return True
        if self._patterns:
            return any(pattern.fullmatch(value) for pattern in self._patterns)
        return False
