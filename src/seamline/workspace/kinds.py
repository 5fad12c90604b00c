"""The kinds of workspace resource and what each document may hold.

`normalise` checks a document and returns its canonical form (what is stored and compared by
`apply`), so two spellings of the same configuration are one version, not two.
"""

from __future__ import annotations

import re
import types
from typing import Any, Literal

import msgspec

from seamline.destinations.addresses import PUBLIC_ONLY, AddressPolicy
from seamline.engage.workspace import normalise_audience, normalise_trait
from seamline.errors import InvalidInput
from seamline.privacy.controls import Control
from seamline.privacy.fields import PiiControl
from seamline.privacy.pii import Classification
from seamline.protocols.enforce import parse_controls
from seamline.protocols.naming import Case
from seamline.protocols.plan import load_plan, plan_to_document
from seamline.protocols.transforms import parse_transformation
from seamline.reverse_etl.models import normalise_model
from seamline.workspace.destination_kinds import (
    Lookup,
    normalise_destination,
    normalise_subscription,
)

KINDS = (
    "tracking_plan",
    "source_connection",
    "transformation",
    "function",
    "pii_matcher",
    "pii_control",
    "consent_category",
    "destination",
    "subscription",
    "computed_trait",
    "audience",
    "model",
)
"""In the order `apply` creates them: later kinds may refer to earlier ones."""


class Naming(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    events: Case | None = None
    properties: Case | None = None
    traits: Case | None = None
    mode: Literal["flag", "fix"] = "flag"


class SourceConnection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    tracking_plan: str | None = None
    schema_controls: dict[str, Any] = {}
    naming: Naming | None = None


class Function(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: str
    time_limit: float = 1.0


class PiiMatcher(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str
    classification: Classification
    names: list[str] = []
    name_regex: str | None = None
    value_regex: str | None = None


class ConsentCategory(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    description: str = ""
    destinations: list[str] = []


def normalise(
    kind: str,
    name: str,
    document: Any,
    lookup: Lookup | None = None,
    policy: AddressPolicy = PUBLIC_ONLY,
) -> dict[str, Any]:
    """The canonical document of a resource; InvalidInput names what is wrong. `lookup`
    finds the resources a subscription refers to; `policy` says which literal destination
    URLs are refused."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown resource kind {kind!r}; kinds are {', '.join(KINDS)}")
    if not name or len(name) > 300:
        raise InvalidInput(f"a {kind} needs a name of 1 to 300 characters")
    if not isinstance(document, dict):
        raise InvalidInput(f"{kind} {name!r}: the document must be an object")
    if kind == "tracking_plan":
        plan = load_plan({**document, "name": name})
        return plan_to_document(plan)
    if kind == "transformation":
        return _plain(parse_transformation(name, document))
    if kind == "destination":
        return normalise_destination(name, document, policy)
    if kind == "subscription":
        return normalise_subscription(name, document, lookup or (lambda _kind, _name: None), policy)
    if kind == "computed_trait":
        return normalise_trait(name, document)
    if kind == "audience":
        return normalise_audience(name, document, lookup or (lambda _kind, _name: None))
    if kind == "model":
        return normalise_model(name, document, lookup or (lambda _kind, _name: None), policy)
    typed: Any = _convert(kind, name, document)
    if isinstance(typed, SourceConnection):
        parse_controls(typed.schema_controls)
    elif isinstance(typed, Function):
        _check_function(name, typed)
    elif isinstance(typed, PiiMatcher):
        for pattern in (typed.name_regex, typed.value_regex):
            _check_regex(name, pattern)
    elif isinstance(typed, PiiControl):
        if (typed.kind is None) == (typed.classification is None):
            raise InvalidInput(f"pii_control {name!r}: give exactly one of kind or classification")
        if typed.control != "block" and typed.control not in set(Control):
            raise InvalidInput(
                f"pii_control {name!r}: control must be one of allow, hash, hash_plain, mask, "
                "drop, block"
            )
    return _plain(typed)


_TYPES: dict[str, type[msgspec.Struct]] = {
    "source_connection": SourceConnection,
    "function": Function,
    "pii_matcher": PiiMatcher,
    "pii_control": PiiControl,
    "consent_category": ConsentCategory,
}


def _convert(kind: str, name: str, document: dict[str, Any]) -> msgspec.Struct:
    try:
        return msgspec.convert(document, _TYPES[kind])
    except msgspec.ValidationError as error:
        raise InvalidInput(f"{kind} {name!r}: {error}") from None


def _plain(value: msgspec.Struct) -> dict[str, Any]:
    plain = msgspec.to_builtins(value)
    assert isinstance(plain, dict)
    return plain


def _check_function(name: str, function: Function) -> None:
    try:
        compiled = compile(function.code, f"<function {name}>", "exec")
    except SyntaxError as error:
        raise InvalidInput(
            f"function {name!r}: syntax error on line {error.lineno}: {error.msg}"
        ) from None
    if not entry_points(compiled):
        raise InvalidInput(
            f"function {name!r}: define `def transform(event):` (a transformation), "
            "`def on_request(request, settings):` (a webhook source's function) or a "
            "destination function's handlers (`def on_track(event, settings):` …)"
        )
    if not 0 < function.time_limit <= 30:
        raise InvalidInput(f"function {name!r}: time_limit must be between 0 and 30 seconds")


ENTRY_POINTS = frozenset(
    {
        "transform",
        "on_request",
        # A destination function's handlers (destinations/catalog/function.py).
        "on_track",
        "on_identify",
        "on_group",
        "on_page",
        "on_screen",
        "on_alias",
        "on_batch",
        "on_delete",
    }
)


def entry_points(code: types.CodeType | str) -> frozenset[str]:
    """The entry points a function's code names: `transform`, `on_request`, a destination
    function's `on_track` … (several may be)."""
    if isinstance(code, str):
        try:
            code = compile(code, "<function>", "exec")
        except SyntaxError:
            return frozenset()
    names = {*code.co_names, *code.co_varnames}
    return ENTRY_POINTS & names


def _check_regex(name: str, pattern: str | None) -> None:
    if pattern is None:
        return
    try:
        re.compile(pattern)
    except re.error as error:
        raise InvalidInput(
            f"pii_matcher {name!r}: bad regular expression {pattern!r}: {error}"
        ) from None
