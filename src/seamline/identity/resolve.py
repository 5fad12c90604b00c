"""The identity resolution algorithm, over an in-memory working set for one batch.

Per message, as Segment's "flat matching" does it:

1. look up the profiles that own any of the message's identifiers;
2. if joining them and adding the message's identifiers would give a profile more values of
   a type than its limit allows, drop the message's lowest-priority identifier and go to 1;
3. no profile: create one; one: attach the new identifiers; several: merge them into the
   oldest, recording the merge and why.

The working set is loaded from the identity graph for a whole batch and the resulting
changes are written back in one transaction, so a batch costs a few queries, not a few per
message.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules


def new_profile_id(seed: str | None = None) -> str:
    """A profile id; derived from `seed` (the creating message) so a replay of the log gives
    the same ids, random without one."""
    if seed is None:
        return "use_" + secrets.token_hex(12)
    return "use_" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()


SEEN_GRANULARITY = timedelta(hours=1)


@dataclass
class ProfileState:
    """What resolution needs of a canonical profile: its age and its limited identifiers."""

    id: str
    created_at: datetime
    identifiers: dict[Identifier, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Merge:
    """`from_id` was merged into `into_id` because message `message_id` linked them."""

    from_id: str
    into_id: str
    message_id: str
    identifiers: tuple[Identifier, ...]
    at: datetime
    id: int | None = None  # set once stored
    kind: str = "deterministic"  # or probabilistic / manual: merged on evidence, not a message
    score: float | None = None  # a probabilistic or manual merge's match probability


@dataclass
class Changes:
    """What one batch's resolution wants written to the identity graph."""

    new_profiles: list[ProfileState] = field(default_factory=list)
    new_identities: list[tuple[Identifier, str, datetime, str]] = field(default_factory=list)
    seen: dict[Identifier, datetime] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)


class Resolution(NamedTuple):
    """The outcome for one message: its profile and the identifiers it had to give up."""

    profile_id: str
    dropped: tuple[Identifier, ...] = ()


class WorkingSet:
    """The part of the identity graph a batch touches, kept consistent as it is resolved."""

    def __init__(
        self,
        rules: IdentityRules,
        owners: dict[Identifier, str],
        profiles: dict[str, ProfileState],
        last_seen: dict[Identifier, datetime] | None = None,
        separated: set[frozenset[str]] | None = None,
    ) -> None:
        self._rules = rules
        self._limited = rules.limited_types()
        self._windowed = rules.windowed_types()
        self._owners = owners
        self._profiles = profiles
        self._last_seen = last_seen if last_seen is not None else {}
        self._separated = separated if separated is not None else set()
        self.changes = Changes()

    def resolve(
        self,
        identifiers: Iterable[Identifier],
        message_id: str,
        at: datetime,
        seed: str | Callable[[], str] | None = None,
    ) -> Resolution:
        """Resolve one message's identifiers (most trusted first) to a profile; `seed` names
        the message uniquely so a profile it creates gets a reproducible id (a callable is
        called only then: formatting it costs more than resolving a known visitor)."""
        kept = list(identifiers)
        if len(kept) == 1:
            # Most traffic: one identifier (an anonymous id) that already has a profile. The
            # general path below gives the same outcome; this one skips its bookkeeping.
            identifier = kept[0]
            owner = self._owners.get(identifier)
            if owner is not None:
                self._seen_again(identifier, owner, at)
                return Resolution(owner)
        dropped: list[Identifier] = []
        owners = self._owners_of(kept)
        while len(kept) > 1 and self._breaks_limits(owners, kept, at):
            dropped.append(kept.pop())
            owners = self._owners_of(kept)
        if not owners:
            created = ProfileState(new_profile_id(seed() if callable(seed) else seed), at)
            self._profiles[created.id] = created
            self.changes.new_profiles.append(created)
            owners = [created.id]
        survivor = owners[0]
        if len(owners) > 1:
            survivor = min(owners, key=lambda pid: (self._profiles[pid].created_at, pid))
        for other in owners:
            if other != survivor:
                self._merge(other, survivor, message_id, kept, at)
        profile = self._profiles.get(survivor)  # None: not at risk, so not loaded
        for identifier in kept:
            if identifier not in self._owners:
                self._owners[identifier] = survivor
                self._last_seen[identifier] = at
                self.changes.new_identities.append((identifier, survivor, at, message_id))
                if profile is not None and self._is_limited(identifier):
                    previous = profile.identifiers.get(identifier)
                    profile.identifiers[identifier] = at if previous is None else max(previous, at)
            else:
                self._seen_again(identifier, survivor, at)
        return Resolution(survivor, tuple(dropped))

    def _seen_again(self, identifier: Identifier, owner: str, at: datetime) -> None:
        """Note that `identifier`, already owned by `owner`, was seen `at`."""
        if identifier.type in self._windowed:
            self._touch(identifier, at)
        profile = self._profiles.get(owner)  # None: not at risk, so not loaded
        if profile is not None and identifier.type in self._limited:
            previous = profile.identifiers.get(identifier)
            profile.identifiers[identifier] = at if previous is None else max(previous, at)

    def _touch(self, identifier: Identifier, at: datetime) -> None:
        # Last-seen times only feed windows of days; writing them at most hourly spares the
        # state store an update for nearly every message from a returning visitor.
        previous = self._last_seen.get(identifier)
        if previous is None or at - previous >= SEEN_GRANULARITY:
            self._last_seen[identifier] = at
            self.changes.seen[identifier] = at

    def _owners_of(self, identifiers: list[Identifier]) -> list[str]:
        found: dict[str, None] = {}
        for identifier in identifiers:
            owner = self._owners.get(identifier)
            if owner is not None:
                found.setdefault(owner)
        return list(found)

    def _is_limited(self, identifier: Identifier) -> bool:
        return identifier.type in self._limited

    def _breaks_limits(self, owners: list[str], incoming: list[Identifier], at: datetime) -> bool:
        if self._separated and len(owners) > 1:
            for n, first in enumerate(owners):
                for second in owners[n + 1 :]:
                    if frozenset((first, second)) in self._separated:
                        return True  # an operator unmerged these: never join them again
        values: dict[str, set[str]] = {}
        for owner in owners:
            for identifier, last_seen in self._profiles[owner].identifiers.items():
                if self._counts(identifier, last_seen, at):
                    values.setdefault(identifier.type, set()).add(identifier.value)
        for identifier in incoming:
            if self._is_limited(identifier):
                values.setdefault(identifier.type, set()).add(identifier.value)
        for id_type, found in values.items():
            limit = self._rules.rule(id_type).limit
            if limit is not None and len(found) > limit:
                return True
        return False

    def _counts(self, identifier: Identifier, last_seen: datetime, at: datetime) -> bool:
        rule = self._rules.rule(identifier.type)
        if rule.limit is None:
            return False
        if rule.window_seconds is None:
            return True
        return last_seen >= at - timedelta(seconds=rule.window_seconds)

    def _merge(
        self, other: str, survivor: str, message_id: str, why: list[Identifier], at: datetime
    ) -> None:
        merged = self._profiles.pop(other)
        into = self._profiles[survivor]
        for identifier, last_seen in merged.identifiers.items():
            previous = into.identifiers.get(identifier)
            into.identifiers[identifier] = (
                last_seen if previous is None else max(previous, last_seen)
            )
        for identifier, owner in self._owners.items():
            if owner == other:
                self._owners[identifier] = survivor
        for pair in [pair for pair in self._separated if other in pair]:
            self._separated.discard(pair)
            self._separated.add(frozenset(survivor if p == other else p for p in pair))
        self.changes.merges.append(Merge(other, survivor, message_id, tuple(why), at))
