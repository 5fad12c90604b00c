"""People's traits and accounts for the real-time engine, read from the profile stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class _Traits(Protocol):
    def traits_of_people(
        self, people: Mapping[str, list[str]], names: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]: ...
    def traits_of_account(self, account_id: str) -> dict[str, Any]: ...


class _Accounts(Protocol):
    def accounts_of(self, canonical_id: str) -> list[dict[str, Any]]: ...


class StoredPeople:
    """`PeopleFacts` over the trait and account stores."""

    def __init__(self, traits: _Traits, accounts: _Accounts) -> None:
        self._traits = traits
        self._accounts = accounts

    def traits(
        self, people: Mapping[str, list[str]], names: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        return self._traits.traits_of_people(people, names)

    def accounts(self, canonical_id: str) -> list[dict[str, Any]]:
        return [
            self._traits.traits_of_account(str(account["id"]))
            for account in self._accounts.accounts_of(canonical_id)
        ]
