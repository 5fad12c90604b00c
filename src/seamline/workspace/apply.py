"""Workspace as code: a YAML file describes resources; `apply` shows the difference and makes
the workspace match it. Applying the same file twice changes nothing the second time.

```yaml
tracking_plans:
  Web: {events: {Order Completed: {properties: {total: {type: number}}}}}
sources:
  Website: {tracking_plan: Web, schema_controls: {unplanned_events: quarantine}}
transformations:
  fix-name: {kind: rename_event, events: [order_completed], to: Order Completed}
functions:
  enrich: {file: enrich.py, time_limit: 1.0}   # or `code: |` inline
pii:
  matchers: {loyalty-id: {kind: loyalty_id, classification: yellow, names: [loyalty_id]}}
  controls: {hash-emails: {kind: email, control: hash_plain, destinations: [meta]}}
consent:
  categories: {Advertising: {destinations: [meta]}}
destinations:
  meta: {type: meta-conversions-api, settings: {pixel_id: "123", access_token: "${META_TOKEN}"}}
subscriptions:
  meta-purchases: {destination: meta, action: send_event, trigger: 'event = "Order Completed"'}
```
Sources are named by their name (ignoring case) or id; the file's names of sources inside
transformations' `sources` lists are turned into ids too. Every error names the place in the
file it comes from (`subscriptions.hook-orders.mapping.url: …`).
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml

from seamline.collect.sources import Source, same_name
from seamline.errors import InvalidInput, SeamlineError
from seamline.workspace.kinds import KINDS
from seamline.workspace.resources import Resource
from seamline.workspace.saving import shown

SECTIONS: dict[str, tuple[str, ...]] = {
    "tracking_plans": ("tracking_plan",),
    "sources": ("source_connection",),
    "transformations": ("transformation",),
    "functions": ("function",),
    "pii": ("pii_matcher", "pii_control"),
    "consent": ("consent_category",),
    "destinations": ("destination",),
    "subscriptions": ("subscription",),
    "computed_traits": ("computed_trait",),
    "audiences": ("audience",),
    "models": ("model",),
}
_SUBSECTIONS = {
    "pii_matcher": "matchers",
    "pii_control": "controls",
    "consent_category": "categories",
}


class Change(NamedTuple):
    action: Literal["create", "update", "delete"]
    kind: str
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def describe(self) -> str:
        """A header line and, for updates, a unified diff of the documents in YAML."""
        sign = {"create": "+", "update": "~", "delete": "-"}[self.action]
        header = f"{sign} {self.action} {self.kind} {self.name!r}"
        if self.action != "update":
            return header
        diff = difflib.unified_diff(
            _yaml(shown(self.kind, self.before)).splitlines(),
            _yaml(shown(self.kind, self.after)).splitlines(),
            "current",
            "file",
            lineterm="",
            n=2,
        )
        return "\n".join([header, *("    " + line for line in diff)])


def read_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "unreadable"
        raise InvalidInput(f"{path} is not valid YAML{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InvalidInput(f"{path}: the file must be a mapping of sections")
    # `webhook_sources` configures sources, not resources (seamline.sources.apply); `identity`
    # is the identity rules document (seamline.identity.rules_apply).
    unknown = set(loaded) - set(SECTIONS) - {"workspace", "webhook_sources", "identity"}
    if unknown:
        raise InvalidInput(
            f"{path}: unknown section {sorted(unknown)[0]!r}; sections are " + ", ".join(SECTIONS)
        )
    return loaded


def source_ids(known: Sequence[Source], workspace: str) -> Callable[[str], str]:
    """Turns a source's id or name (ignoring case) into its id. A name that more than one
    stored source has (made before names had to be unique) is refused, never guessed."""

    def source_id(name: str) -> str:
        for source in known:
            if source.id == name:
                return source.id
        found = [source for source in known if same_name(source.name, name)]
        if len(found) == 1:
            return found[0].id
        if found:
            ids = ", ".join(source.id for source in found)
            raise InvalidInput(
                f"{len(found)} sources of workspace {workspace!r} are named {name!r} ({ids}); "
                "write the id of the one you mean instead of the name"
            )
        raise InvalidInput(
            f"no source named {name!r} in workspace {workspace!r}; create it with "
            f"`seamline sources create {shlex.quote(name)}`, or see `seamline sources list`"
        )

    return source_id


Save = Callable[[str, str, dict[str, Any], Callable[[str, str], Any]], dict[str, Any]]
"""(kind, name, definition, pending lookup) → the document to store (`saving.prepare`)."""


def desired(
    document: Mapping[str, Any],
    base: Path,
    source_id: Callable[[str], str],
    save: Save,
) -> dict[tuple[str, str], dict[str, Any]]:
    """The resources the file describes, ready to store, keyed by (kind, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}

    # Audiences may refer to definitions further down the file: those are looked up as written.
    written = {
        (kind, str(name)): dict(spec or {})
        for section, kinds in SECTIONS.items()
        for kind in kinds
        if kind in ("computed_trait", "audience") and isinstance(document.get(section), dict)
        for name, spec in (document.get(section) or {}).items()
    }

    def pending(kind: str, name: str) -> dict[str, Any] | None:
        return found.get((kind, name)) or written.get((kind, name))

    for section, kinds in SECTIONS.items():
        body = document.get(section) or {}
        for kind in kinds:
            entries = body.get(_SUBSECTIONS[kind]) or {} if kind in _SUBSECTIONS else body
            if not isinstance(entries, dict):
                raise InvalidInput(f"{section}: expected a mapping of names to definitions")
            for name, spec in entries.items():
                spec = dict(spec or {})
                name = str(name)
                where = f"{section}.{_SUBSECTIONS[kind]}" if kind in _SUBSECTIONS else section
                where = f"{where}.{name}"
                if kind == "source_connection":
                    with _located(where, kind, name):
                        name = source_id(name)
                elif kind == "transformation" and spec.get("sources"):
                    with _located(f"{where}.sources", kind, name):
                        spec["sources"] = [source_id(str(s)) for s in spec["sources"]]
                elif kind == "function" and "file" in spec:
                    with _located(f"{where}.file", kind, name):
                        spec["code"] = _read_code(base / str(spec.pop("file")))
                elif kind == "destination" and spec.get("settings"):
                    spec["settings"] = {
                        key: from_environment(value, f"{where}.settings.{key}")
                        for key, value in spec["settings"].items()
                    }
                elif kind == "model" and isinstance(spec.get("source"), dict):
                    url = from_environment(spec["source"].get("url"), f"{where}.source.url")
                    spec["source"] = {**spec["source"], **({"url": url} if url else {})}
                with _located(where, kind, name):
                    found[kind, name] = save(kind, name, spec, pending)
    return found


@contextmanager
def _located(where: str, kind: str, name: str) -> Iterator[None]:
    """Prefixes an error with its place in the file: `subscriptions.hook-orders.mapping.url: …`
    where the error gives its field, else `subscriptions.hook-orders: …`; the error's own
    `subscription 'hook-orders': ` prefix goes, the file's place says it better."""
    try:
        yield
    except SeamlineError as error:
        message = error.message
        for label in (kind, kind.replace("_", " ")):
            message = message.removeprefix(f"{label} {name!r}: ")
        details = error.details if isinstance(error.details, dict) else {}
        field = details.get("path") or details.get("field")
        if not (isinstance(field, str) and field and message.startswith(f"{field}: ")):
            leading = _FIELD.match(message)
            field = leading.group(1) if leading else ""
        path = f"{where}.{field}" if field else where
        message = message[len(field) + 2 :] if field else message
        at = _AT.search(message)  # msgspec's "… - at `$.naming.events`"
        if at is not None and at.group(1):
            path, message = f"{path}.{at.group(1)}", message[: at.start()]
        error.message = f"{path}: {message}"
        error.args = (error.message,)
        raise


_FIELD = re.compile(r"^([A-Za-z_][\w.]*): ")
_AT = re.compile(r" - at `\$\.?([^`]*)`$")


_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def from_environment(value: Any, where: str) -> Any:
    """`${NAME}` is read from the environment, so secrets need not be in the file."""
    if not isinstance(value, str):
        return value
    match = _VARIABLE.match(value)
    if match is None:
        return value
    found = os.environ.get(match.group(1))
    if found is None:
        raise InvalidInput(f"{where}: environment variable {match.group(1)} is not set")
    return found


def plan_changes(
    current: list[Resource], wanted: dict[tuple[str, str], dict[str, Any]], *, prune: bool
) -> list[Change]:
    """What to do to go from `current` to `wanted`, in an order that keeps references valid."""
    have = {(r.kind, r.name): r.document for r in current}
    changes: list[Change] = []
    for key, after in wanted.items():
        before = have.get(key)
        if before is None:
            changes.append(Change("create", *key, None, after))
        elif before != after:
            changes.append(Change("update", *key, before, after))
    if prune:
        changes.extend(
            Change("delete", *key, before, None)
            for key, before in have.items()
            if key not in wanted
        )
    order = {kind: position for position, kind in enumerate(KINDS)}
    changes.sort(
        key=lambda c: (
            c.action == "delete",
            order[c.kind] * (-1 if c.action == "delete" else 1),
            c.name,
        )
    )
    return changes


def _read_code(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise InvalidInput(f"cannot read function file {path}: {error.strerror}") from None


def _yaml(document: dict[str, Any] | None) -> str:
    return yaml.safe_dump(document or {}, sort_keys=True, allow_unicode=True)
