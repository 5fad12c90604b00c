"""Each profile's latest consent preferences in the state store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from seamline.privacy.consent import ProfileConsent
from seamline.store.state import as_utc, profile_consent


class SqlConsentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def record(self, found: list[ProfileConsent]) -> None:
        if not found:
            return
        newest: dict[tuple[str, str], ProfileConsent] = {}
        for consent in found:
            key = (consent.workspace_id, consent.profile_id)
            if key not in newest or _order(consent) >= _order(newest[key]):
                newest[key] = consent
        with self._engine.begin() as conn:
            for (workspace_id, profile_id), consent in newest.items():
                stored = conn.execute(
                    select(profile_consent).where(
                        profile_consent.c.workspace_id == workspace_id,
                        profile_consent.c.profile_id == profile_id,
                    )
                ).first()
                if stored is not None and _order(_consent(stored._mapping)) > _order(consent):
                    continue
                statement = self._insert(profile_consent).values(**_row(consent))
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["workspace_id", "profile_id"],
                        set_={
                            c: statement.excluded[c]
                            for c in ("preferences", "updated_at", "message_id", "log_offset")
                        },
                    )
                )

    def latest(self, workspace_id: str, profile_ids: list[str]) -> ProfileConsent | None:
        if not profile_ids:
            return None
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(profile_consent).where(
                    profile_consent.c.workspace_id == workspace_id,
                    profile_consent.c.profile_id.in_(profile_ids),
                )
            )
            found = [_consent(row._mapping) for row in rows]
        return max(found, key=_order, default=None)


def _order(consent: ProfileConsent) -> tuple[Any, int]:
    return consent.updated_at, consent.log_offset


def _row(consent: ProfileConsent) -> dict[str, Any]:
    return {f: getattr(consent, f) for f in ProfileConsent.__struct_fields__}


def _consent(row: Any) -> ProfileConsent:
    return ProfileConsent(
        workspace_id=row["workspace_id"],
        profile_id=row["profile_id"],
        preferences=dict(row["preferences"]),
        updated_at=as_utc(row["updated_at"]),
        message_id=row["message_id"],
        log_offset=int(row["log_offset"]),
    )
