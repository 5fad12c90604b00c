"""The `identity:` section of `seamline apply`: the workspace's identity rules as code.

```yaml
identity:
  types: {phone: {priority: 3, limit: 2}}
  custom: [{name: customer_number, path: properties.customer_number}]
```

A section that differs from the newest saved version is saved as a new draft, and `apply`
shows the difference from the rules in force. It does not re-resolve history: that can take a
while and merges or splits people, so it prints the commands that preview and apply the draft
(`seamline identity rules preview N`, `… apply N`). The same file applied twice saves nothing
the second time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import yaml

from seamline.identity.rules_document import InvalidIdentityRules, normalise_identity
from seamline.store.identity_rules_sql import RulesVersion, SqlIdentityRules

SECTION = "identity"
_PLACE = re.compile(r"^[a-z_]+(\.[\w.]+|\[\d+\])*: ")


class IdentityChange(NamedTuple):
    """A new draft of the identity rules, against the version in force."""

    before: dict[str, Any]
    after: dict[str, Any]
    in_force: int

    def describe(self) -> str:
        diff = difflib.unified_diff(
            _yaml(self.before).splitlines(),
            _yaml(self.after).splitlines(),
            f"version {self.in_force} (in force)",
            "file",
            lineterm="",
            n=2,
        )
        header = "~ update identity rules (saved as a draft; applied separately)"
        return "\n".join([header, *("    " + line for line in diff)])


def plan_identity(
    document: Mapping[str, Any], store: SqlIdentityRules, workspace_id: str
) -> IdentityChange | None:
    """The change the file's `identity:` asks for, or None (no section, or the newest saved
    version says the same). InvalidInput names the place: `identity.types.phone.limit: …`."""
    if SECTION not in document:
        return None
    try:
        after = normalise_identity(document[SECTION])
    except InvalidIdentityRules as error:
        placed = _PLACE.match(error.message) is not None
        raise InvalidIdentityRules(f"{SECTION}{'.' if placed else ': '}{error.message}") from None
    active = store.ensure_active(workspace_id)
    newest = store.versions(workspace_id)[0]
    if after in (newest.document, active.document):
        return None
    return IdentityChange(active.document, after, active.version)


def save_identity(
    change: IdentityChange, store: SqlIdentityRules, workspace_id: str, actor: str
) -> RulesVersion:
    """Save the change as a draft (the caller records it and says how to apply it)."""
    return store.save_draft(workspace_id, change.after, actor)


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True)
