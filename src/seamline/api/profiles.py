"""The Profile API, with Segment's paths and response shapes.

`GET /v1/spaces/{space_id}/collections/users/profiles/{identifier}/{traits|external_ids|
events|links|metadata}`; auth is HTTP Basic with an access token as the user name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import IDENTITY_WRITE, PROFILES_READ
from seamline.access.principal import Principal
from seamline.access.tokens import TokenStore
from seamline.api.audit import audited, profile_read
from seamline.api.auth import current_principal, needs
from seamline.api.pii_view import PiiView
from seamline.api.profile_events import cursor_of, event_item, event_window, parse_cursor
from seamline.api.profile_events import iso as _iso
from seamline.errors import InvalidInput, NotFound, SeamlineError
from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.profiles.accounts import account_id
from seamline.profiles.lookup import ProfileIndex, find_profile
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.consent_sql import SqlConsentStore
from seamline.store.events_lake import LakeEventStore
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.traits_sql import SqlTraitStore

PREFIX = "/v1/spaces/{space_id}/collections/users/profiles/{identifier}"
ACCOUNTS = "/v1/spaces/{space_id}/collections/accounts/profiles/{identifier}"
MAX_LIMIT = 200
TRAIT_CLASSES = ("audience", "computed_trait", "custom_trait")


class ProfileAPI:
    """What the Profile API reads: the identity graph, traits, events and tokens."""

    def __init__(
        self,
        *,
        graph: SqlIdentityGraph,
        traits: SqlTraitStore,
        accounts: SqlAccountStore,
        events: LakeEventStore,
        tokens: TokenStore,
        consent: SqlConsentStore,
        engage: Callable[[str, str], dict[str, tuple[str, Any]]] = lambda _w, _p: {},
        pii: PiiView | None = None,
        identity_rules: Callable[[str], IdentityRules] | None = None,
    ) -> None:
        defaults = IdentityRules()
        self.identity_rules = identity_rules or (lambda _workspace: defaults)
        """workspace → the identity rules in force: which identifiers an event carries."""
        self.pii = pii or PiiView()
        """Masks yellow and red PII for callers without PII access."""
        self.engage = engage
        """(workspace, canonical profile) → {key: (class, value)} of computed traits and
        audiences."""
        self.consent = consent
        self.graph = graph
        self.traits = traits
        self.accounts = accounts
        self.events = events
        self.tokens = tokens


def router(reader: ProfileAPI) -> APIRouter:
    """The Profile API's routes, bound to `reader`."""

    def in_space(
        space_id: str, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.workspace_id != space_id:
            raise NotFound(f"no space {space_id!r} for this {principal.kind}")
        return principal

    # Reads need `profiles:read` on the space; a route that changes profiles says so itself.
    routes = APIRouter(tags=["Profile API"], dependencies=[Depends(in_space)])

    def profile_of(space_id: str, identifier: str) -> str:
        index: ProfileIndex = reader.graph
        return find_profile(index, space_id, identifier)

    def resolved(space_id: str, identifier: str) -> str | None:
        try:
            return profile_of(space_id, identifier)
        except SeamlineError:  # unknown or malformed: the route itself answers that
            return None

    # Every read is recorded in the audit trail, once allowed (api/audit.py).
    read = [Depends(needs(PROFILES_READ, "space_id")), Depends(profile_read(resolved))]

    def cursor(request: Request, next_value: str, has_more: bool) -> dict[str, Any]:
        return {"url": request.url.path, "has_more": has_more, "next": next_value}

    @routes.get(PREFIX + "/traits", summary="A profile's traits", dependencies=read)
    async def traits(
        request: Request,
        space_id: str,
        identifier: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
        include: Annotated[str | None, Query(description="Comma-separated trait names")] = None,
        next: Annotated[str | None, Query(description="Cursor from the previous page")] = None,
        verbose: Annotated[
            bool, Query(description="Each trait as {value, source_id, updated_at}")
        ] = False,
        trait_class: Annotated[
            str | None,
            Query(
                alias="class",
                description="audience | computed_trait | custom_trait: only traits of that class",
            ),
        ] = None,
    ) -> JSONResponse:
        if trait_class not in (None, *TRAIT_CLASSES):
            raise InvalidInput(f"class must be one of {', '.join(TRAIT_CLASSES)}")
        profile_id = profile_of(space_id, identifier)
        found = await asyncio.to_thread(reader.traits.traits_of, profile_id, verbose=verbose)
        engage = await asyncio.to_thread(reader.engage, space_id, profile_id)
        # Engage's own values win over the identify that announced them (which may be in flight).
        for key, (_, value) in engage.items():
            found[key] = {"value": value, "source_id": "engage"} if verbose else value
        if trait_class is not None:
            classes = {key: kind for key, (kind, _) in engage.items()}
            found = {
                name: value
                for name, value in found.items()
                if classes.get(name, "custom_trait") == trait_class
            }
        names = sorted(found)
        if include:
            wanted = {name.strip() for name in include.split(",")}
            names = [name for name in names if name in wanted]
        if next:
            names = [name for name in names if name > next]
        page = names[:limit]
        has_more = len(names) > limit
        shown = {name: found[name] for name in page}
        masker = reader.pii.masker(request)
        if masker is not None:
            masker.traits(shown, verbose=verbose)
        return JSONResponse(
            {
                "traits": shown,
                "cursor": cursor(request, page[-1] if has_more else "", has_more),
            }
        )

    @routes.get(PREFIX + "/external_ids", summary="A profile's identifiers", dependencies=read)
    async def external_ids(
        request: Request,
        space_id: str,
        identifier: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25,
        next: Annotated[str | None, Query()] = None,
        include: Annotated[
            str | None, Query(description="Comma-separated identifier types: only these")
        ] = None,
    ) -> JSONResponse:
        profile_id = profile_of(space_id, identifier)
        rows = await asyncio.to_thread(reader.graph.identifiers_of, profile_id)
        if include:
            types = {name.strip().lower() for name in include.split(",")}
            rows = [row for row in rows if row["type"] in types]
        start = _offset(next)
        page = rows[start : start + limit]
        has_more = len(rows) > start + limit
        data = [
            _external_id(
                # As first sent (a phone's spelling); identifiers older than that record, or
                # unchanged by normalisation, have none.
                row.get("sent_value") or row["value"],
                row["type"],
                "users",
                row.get("source_id"),
                row["first_seen"],
            )
            for row in page
        ]
        masker = reader.pii.masker(request)
        if masker is not None:
            for shown in data:
                shown["id"] = masker.identifier(shown["type"], shown["id"])
        return JSONResponse(
            {
                "data": data,
                "cursor": cursor(request, str(start + limit) if has_more else "", has_more),
            }
        )

    @routes.get(PREFIX + "/events", summary="A profile's events, newest first", dependencies=read)
    async def events(
        request: Request,
        space_id: str,
        identifier: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
        next: Annotated[str | None, Query()] = None,
        start: Annotated[
            str | None, Query(description="Only events after this ISO 8601 date or time")
        ] = None,
        end: Annotated[
            str | None, Query(description="Only events before this ISO 8601 date or time")
        ] = None,
        include: Annotated[
            str | None, Query(description="Comma-separated event names: only these")
        ] = None,
        exclude: Annotated[
            str | None, Query(description="Comma-separated event names: all but these")
        ] = None,
        sort: Annotated[str | None, Query(description="desc (the default) or asc")] = None,
    ) -> JSONResponse:
        window = event_window(start, end, include, exclude, sort)
        after = parse_cursor(next)
        profile_id = profile_of(space_id, identifier)
        members = await asyncio.to_thread(reader.graph.members, profile_id)
        rows = await asyncio.to_thread(
            reader.events.events_of, members, limit + 1, after, window=window
        )
        has_more = len(rows) > limit
        page = rows[:limit]
        next_value = cursor_of(page[-1]) if has_more else ""
        rules = reader.identity_rules(space_id)
        for row in page:
            row["profile_id"] = profile_id  # the canonical profile, whatever it was when stored
        data = [event_item(row, rules) for row in page]
        masker = reader.pii.masker(request)
        if masker is not None:
            for event in data:
                masker.message(event)
                for shown in event["external_ids"]:
                    shown["id"] = masker.identifier(shown["type"], shown["id"])
        return JSONResponse({"data": data, "cursor": cursor(request, next_value, has_more)})

    @routes.get(
        PREFIX + "/links", summary="Accounts (groups) the profile belongs to", dependencies=read
    )
    async def links(request: Request, space_id: str, identifier: str) -> JSONResponse:
        profile_id = profile_of(space_id, identifier)
        found = await asyncio.to_thread(reader.accounts.accounts_of, profile_id)
        data = [
            {
                "source_id": row["source_id"],
                "from_collection": "users",
                "to_collection": "accounts",
                "external_ids": [
                    _external_id(
                        row["group_id"], "group_id", "accounts", row["source_id"], row["first_seen"]
                    )
                ],
            }
            for row in found
        ]
        return JSONResponse({"data": data, "cursor": cursor(request, "", False)})

    @routes.get(
        PREFIX + "/metadata",
        summary="When the profile was created and last updated",
        dependencies=read,
    )
    async def metadata(request: Request, space_id: str, identifier: str) -> JSONResponse:
        profile_id = profile_of(space_id, identifier)
        members = await asyncio.to_thread(reader.graph.members, profile_id)
        first, last = await asyncio.to_thread(reader.events.first_and_last, members)
        created = await asyncio.to_thread(reader.graph.created_at, profile_id)
        return JSONResponse(
            {
                "metadata": {
                    "created_at": _iso(created),
                    "updated_at": _iso(last["received_at"]) if last else _iso(created),
                    "expires_at": None,
                    "first_message_id": first["message_id"] if first else None,
                    "first_message_original_timestamp": _iso(_original(first)),
                    "first_source_id": first["source_id"] if first else None,
                    "last_message_id": last["message_id"] if last else None,
                    "last_message_original_timestamp": _iso(_original(last)),
                    "last_source_id": last["source_id"] if last else None,
                }
            }
        )

    @routes.get(
        PREFIX + "/consent", summary="The profile's latest consent preferences", dependencies=read
    )
    async def consent(space_id: str, identifier: str) -> JSONResponse:
        profile_id = profile_of(space_id, identifier)
        members = await asyncio.to_thread(reader.graph.members, profile_id)
        latest = await asyncio.to_thread(reader.consent.latest, space_id, members)
        if latest is None:
            return JSONResponse({"consent": None})
        return JSONResponse(
            {
                "consent": {"categoryPreferences": latest.preferences},
                "updated_at": _iso(latest.updated_at),
                "message_id": latest.message_id,
            }
        )

    @routes.get(
        "/v1/spaces/{space_id}/collections/users/profiles/{identifier}/merges",
        summary="Every merge that built the profile, with its cause",
        dependencies=read,
    )
    async def merge_history(request: Request, space_id: str, identifier: str) -> JSONResponse:
        profile_id = profile_of(space_id, identifier)
        found = await asyncio.to_thread(reader.graph.merges_of, space_id, profile_id)
        rows = await asyncio.to_thread(reader.graph.identifiers_of, profile_id)
        # Merges record normalised values; show each as it was sent, as external_ids does.
        sent = {(r["type"], r["value"]): r["sent_value"] for r in rows if r.get("sent_value")}
        masker = reader.pii.masker(request)

        def shown(found: Identifier) -> str:
            value = sent.get((found.type, found.value), found.value)
            if masker is None:
                return f"{found.type}:{value}"
            return f"{found.type}:{masker.identifier(found.type, value)}"

        return JSONResponse(
            {
                "data": [
                    {
                        "merge_id": merge.id,
                        "from_profile": merge.from_id,
                        "into_profile": merge.into_id,
                        "message_id": merge.message_id,
                        "identifiers": [shown(i) for i in merge.identifiers],
                        "merged_at": _iso(merge.at),
                        "kind": merge.kind,
                        "score": merge.score,
                    }
                    for merge in found
                ]
            }
        )

    def account_of(space_id: str, identifier: str) -> str:
        id_type, _, group_id = identifier.partition(":")
        if id_type != "group_id" or not group_id:
            raise InvalidInput("accounts are found by group_id:VALUE")
        found = account_id(space_id, group_id)
        if not reader.accounts.exists(found):
            raise NotFound(f"Profile was not found: no account has {identifier}")
        return found

    @routes.get(ACCOUNTS + "/traits", summary="An account's (group's) traits", dependencies=read)
    async def account_traits(request: Request, space_id: str, identifier: str) -> JSONResponse:
        found = account_of(space_id, identifier)
        traits = await asyncio.to_thread(reader.traits.traits_of_account, found)
        masker = reader.pii.masker(request)
        if masker is not None:
            masker.traits(traits)
        return JSONResponse({"traits": traits, "cursor": cursor(request, "", False)})

    @routes.get(ACCOUNTS + "/links", summary="The people linked to an account", dependencies=read)
    async def account_links(request: Request, space_id: str, identifier: str) -> JSONResponse:
        found = account_of(space_id, identifier)
        members = await asyncio.to_thread(reader.accounts.members_of, found)
        data = [
            {
                "to_collection": "users",
                "external_ids": [
                    _external_id(
                        row["canonical_id"],
                        "profile_id",
                        "users",
                        row["source_id"],
                        row["first_seen"],
                    )
                ],
            }
            for row in members
        ]
        return JSONResponse({"data": data, "cursor": cursor(request, "", False)})

    @routes.get(
        "/v1/spaces/{space_id}/profiles",
        summary="Find profiles by identifier (`identifier=email:a@b.com`) or by a trait value "
        "(`trait.plan=pro`; the value is read as JSON when it parses, else as text)",
        dependencies=read,
    )
    async def search(request: Request, space_id: str) -> JSONResponse:
        limit = _offset(request.query_params.get("limit")) or 20
        found: list[str] = []
        identifier = request.query_params.get("identifier")
        wanted = {k[6:]: v for k, v in request.query_params.items() if k.startswith("trait.")}
        if identifier:
            try:
                found = [profile_of(space_id, identifier)]
            except NotFound:
                found = []
        elif len(wanted) == 1:
            [(name, text)] = wanted.items()
            found = await asyncio.to_thread(
                reader.traits.profiles_with, name, _json_or_text(text), min(limit, MAX_LIMIT)
            )
        else:
            raise InvalidInput("search with identifier=type:value or one trait.NAME=VALUE")
        data = []
        masker = reader.pii.masker(request)
        for profile_id in found:
            traits = await asyncio.to_thread(reader.traits.traits_of, profile_id)
            if masker is not None:
                masker.traits(traits)
            data.append({"profile_id": profile_id, "traits": traits})
        return JSONResponse({"data": data})

    @routes.post(
        "/v1/spaces/{space_id}/merges/{merge_id}/unmerge",
        summary="Split a profile along a recorded merge; the two are never merged again",
        dependencies=[Depends(needs(IDENTITY_WRITE, "space_id"))],
    )
    async def unmerge(request: Request, space_id: str, merge_id: int) -> JSONResponse:
        split, kept = await asyncio.to_thread(reader.graph.unmerge, space_id, merge_id)
        after = {"profile_id": split, "split_from": kept}
        await asyncio.to_thread(
            audited, request, "profile.unmerge", "merge", str(merge_id), after=after
        )
        return JSONResponse({"merge_id": merge_id, "profile_id": split, "split_from": kept})

    return routes


def _external_id(
    value: str, id_type: str, collection: str, source_id: str | None, created: datetime
) -> dict[str, Any]:
    """One external id in the Profile API's shape."""
    return {
        "id": value,
        "type": id_type,
        "collection": collection,
        "encoding": "none",
        "source_id": source_id,
        "created_at": _iso(created),
    }


def _json_or_text(text: str) -> Any:
    try:
        return _json.decode(text)
    except msgspec.DecodeError:
        return text


def _original(row: dict[str, Any] | None) -> datetime | None:
    if row is None:
        return None
    value = row["original_timestamp"] or row["timestamp"]
    return value if isinstance(value, datetime) else None


def _offset(next_value: str | None) -> int:
    if not next_value:
        return 0
    if not next_value.isdigit():
        raise InvalidInput("next must be the cursor from the previous page")
    return int(next_value)


_json = msgspec.json.Decoder()
