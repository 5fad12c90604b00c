"""What a workspace's definitions read from events and profiles: the batch engine's columns.

Apart from the relation builders (seamline.engage.batch_source), which import Ibis: the rules
every role compiles need only this, and a role process starts ~0.4 s sooner without Ibis."""

from __future__ import annotations

from dataclasses import dataclass, field

PROPERTY, TRAIT, ACCOUNT = "p", "t", "a"


@dataclass(frozen=True)
class Needs:
    """The event properties, profile traits and account traits definitions read, in order."""

    properties: tuple[str, ...] = ()
    traits: tuple[str, ...] = ()
    account_traits: tuple[str, ...] = ()
    columns: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)

    def column(self, family: str, name: str) -> str:
        """The column prefix of a property (`p`), trait (`t`) or account trait (`a`)."""
        names = {PROPERTY: self.properties, TRAIT: self.traits, ACCOUNT: self.account_traits}
        return f"{family}{names[family].index(name)}"
