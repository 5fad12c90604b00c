"""Whether the caller of a route sees PII, and if not, the masker for their workspace.

A principal without PII access (a token or user made without `--pii-access`, not an owner)
gets yellow and red fields masked by `privacy.masking.Masker`, with the workspace's own PII
matchers; the masker is rebuilt when the workspace's configuration changes.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from seamline.access.principal import Principal
from seamline.privacy.fields import FieldClassifier
from seamline.privacy.masking import Masker
from seamline.privacy.pii import DEFAULT_MATCHERS
from seamline.workspace.compiled import WorkspaceRules


class PiiView:
    def __init__(self, rules: Callable[[str], WorkspaceRules] | None = None) -> None:
        self._rules = rules
        self._maskers: dict[str, tuple[int, Masker]] = {}

    def masker(self, request: Request) -> Masker | None:
        """None when the request's principal sees PII; else its workspace's masker."""
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None or principal.pii_access:
            # No principal: the route authenticated nobody (never a data route: every one
            # declares a permission, and tests/api enumerates them).
            return None
        return self.masker_of(principal.workspace_id)

    def masker_of(self, workspace_id: str) -> Masker:
        if self._rules is None:
            return Masker(FieldClassifier(DEFAULT_MATCHERS))
        rules = self._rules(workspace_id)
        cached = self._maskers.get(workspace_id)
        if cached is None or cached[0] != rules.revision:
            cached = self._maskers[workspace_id] = (
                rules.revision,
                Masker(FieldClassifier(rules.matchers)),
            )
        return cached[1]
