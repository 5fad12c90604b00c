"""Identity rules versions as the API, the CLI and `seamline apply` show and change them.

Saving only ever makes a draft. A draft is previewed (`ops/identity_preview.py`, on a copy)
and applied by re-resolving history under it (`ops/identity_reresolve.py`), which activates it
when the re-resolved graph is swapped in. One version of a workspace applies at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seamline.config import Settings
from seamline.errors import Conflict, NotFound
from seamline.identity.rules_document import defaults_document, normalise_identity
from seamline.store.identity_rules_sql import RulesVersion, SqlIdentityRules

Progress = Callable[[str, int, int], None]


def version_summary(found: RulesVersion) -> dict[str, Any]:
    """A version without its document, as the API lists it."""
    return {
        "version": found.version,
        "state": found.state,
        "created_at": found.created_at.isoformat(),
        "created_by": found.created_by,
        "activated_at": None if found.activated_at is None else found.activated_at.isoformat(),
    }


class IdentityRulesOps:
    """The identity rules of every workspace of one installation (`settings`)."""

    def __init__(self, settings: Settings, store: SqlIdentityRules) -> None:
        self.settings = settings
        self.store = store

    def overview(self, workspace_id: str) -> dict[str, Any]:
        """The version in force (version 1 is made from the settings when there is none),
        every version newest first, and the defaults."""
        active = self.store.ensure_active(workspace_id)
        return {
            "active": {
                "version": active.version,
                "document": active.document,
                "activated_at": None
                if active.activated_at is None
                else active.activated_at.isoformat(),
                "created_by": active.created_by,
            },
            "versions": [version_summary(v) for v in self.store.versions(workspace_id)],
            "defaults": defaults_document(),
        }

    def version(self, workspace_id: str, version: int) -> dict[str, Any]:
        """One version with its document, and while it applies how far it is."""
        found = self._get(workspace_id, version)
        progress, error = self.store.status(workspace_id, version)
        return {
            **version_summary(found),
            "document": found.document,
            "progress": progress,
            "error": error,
        }

    def save(self, workspace_id: str, document: Any, actor: str) -> RulesVersion:
        """Check `document` and save it as a draft (InvalidIdentityRules: nothing saved)."""
        return self.store.save_draft(workspace_id, normalise_identity(document), actor)

    def preview(self, workspace_id: str, version: int, on_progress: Progress | None = None) -> Any:
        """What applying `version` would merge and split (a RulesPreview); changes nothing."""
        from seamline.ops.identity_preview import preview

        found = self._get(workspace_id, version)
        return preview(self.settings, found.document, on_progress, workspace_id=workspace_id)

    def check_apply(self, workspace_id: str, version: int) -> RulesVersion:
        """The version, if it may be applied now: NotFound, or Conflict when it is active
        already or another version is applying."""
        found = self._get(workspace_id, version)
        if found.state == "active":
            raise Conflict(f"identity rules version {version} is active already")
        from seamline.ops.identity_reresolve import reresolution_running

        applying = [v for v in self.store.versions(workspace_id) if v.state == "applying"]
        # A version left applying by a killed process blocks nothing: re-resolution marks it
        # failed when it starts.
        if applying and not reresolution_running(self.settings):
            return found
        for other in applying:
            if other.version != version:
                raise Conflict(
                    f"identity rules version {other.version} is being applied; "
                    "wait until it is done"
                )
            raise Conflict(f"identity rules version {version} is being applied already")
        return found

    def start_applying(self, workspace_id: str, version: int) -> RulesVersion:
        """`check_apply`, then mark the version applying (the API answers 202 at once and
        re-resolves in the background)."""
        found = self.check_apply(workspace_id, version)
        self.store.mark(workspace_id, version, "applying")
        return found._replace(state="applying")

    def apply(self, workspace_id: str, version: int, on_progress: Progress) -> Any:
        """Re-resolve history under `version` online and activate it (a Reresolved); marks
        the version failed with the reason when it cannot."""
        from seamline.ops.identity_reresolve import reresolve

        try:
            return reresolve(self.settings, version, on_progress, workspace_id=workspace_id)
        except BaseException as failure:
            found = self.store.get(workspace_id, version)
            if found is not None and found.state == "applying":
                # Refused before the re-resolution started (it marks its own failures), after
                # the API marked it applying to answer at once.
                why = str(failure) or type(failure).__name__
                self.store.mark(workspace_id, version, "failed", error=why)
            raise

    def _get(self, workspace_id: str, version: int) -> RulesVersion:
        found = self.store.get(workspace_id, version)
        if found is None:
            raise NotFound(f"identity rules version {version} does not exist")
        return found
