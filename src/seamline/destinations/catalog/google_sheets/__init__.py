"""Google Sheets: one row per record, keyed by a record identifier in column A, through the
Sheets API v4 (`https://sheets.googleapis.com/v4/spreadsheets/{id}/values…`).

As Segment's Post Sheet does, a batch reads column A to find which records already have a row:
those rows are rewritten in place (`values:batchUpdate`), the others are appended after the
table (`values:append` with `insertDataOption=INSERT_ROWS`). Row 1 is the header: `id` and then
one column per mapped field. Unlike Segment, which rewrites the header from each batch's first
record (so a field added or dropped shifts the columns under old rows), the header read from the
sheet is kept and a field it lacks becomes a new column at its end; it is written only when it
changes. A record whose operation is `deleted` has its row cleared (Segment drops it).

Google answers 400 `INVALID_ARGUMENT` (a sheet name that does not exist, a value it cannot
take), 403 `PERMISSION_DENIED` (the spreadsheet is not shared with the account) and 404
`NOT_FOUND` (no such spreadsheet): all permanent. 401 means the access token expired; it is
renewed once. 429 `RESOURCE_EXHAUSTED` (per-minute read and write quotas, per project and per
user) and 500/503 are retried.

Deletion clears every row whose identifier is one of the person's user ids, anonymous ids or
emails, in each spreadsheet and sheet the subscriptions name literally.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog.google_sheets import api
from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import CannotDelete, InvalidPayload
from seamline.destinations.shaping import first_of, path

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

MAX_BATCH = 500  # Segment's batch size: a batch is read, then written, in 2 or 3 requests
MAX_COLUMNS = 200
MAX_CELL = 50_000  # characters: Google's limit for one cell
MAX_CELLS = 10_000_000  # Google's limit for a whole spreadsheet


def _cell(value: Any, where: str) -> Any:
    if value is None:
        return ""
    if not isinstance(value, str | int | float | bool):
        value = json.dumps(value, default=str, separators=(",", ":"))
    if isinstance(value, str) and len(value) > MAX_CELL:
        raise InvalidPayload(f"{where} is over Google's {MAX_CELL} characters for a cell")
    return value


def _record(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    identifier = payload.get("record_identifier")
    if identifier is None or str(identifier) == "":
        raise InvalidPayload("a row needs a record identifier")
    fields = payload.get("fields") or {}
    if not isinstance(fields, Mapping) or len(fields) > MAX_COLUMNS:
        raise InvalidPayload(f"fields must be an object of at most {MAX_COLUMNS} columns")
    values = {str(k): _cell(v, f"field {k!r}") for k, v in fields.items()}
    return (
        str(_cell(identifier, "record_identifier")),
        values,
        payload.get("operation_type") == ("deleted"),
    )


def _sync(ctx: Context, sheet_id: str, sheet: str, payloads: list[dict[str, Any]]) -> None:
    input_option = str(payloads[-1].get("data_format") or "RAW")
    records: dict[str, tuple[dict[str, Any], bool]] = {}
    for payload in payloads:
        identifier, values, deleted = _record(payload)
        records.pop(identifier, None)  # the latest record of an identifier wins
        records[identifier] = (values, deleted)
    header, ids = api.read_columns(ctx, sheet_id, sheet)
    columns = header[1:] if header else []
    for values, deleted in records.values():
        columns += [name for name in values if name not in columns and not deleted]
    if len(columns) > MAX_COLUMNS or len(ids) * (len(columns) + 1) > MAX_CELLS:
        raise InvalidPayload(f"the sheet would pass {MAX_COLUMNS} columns or Google's cell limit")
    row_of = {identifier: n for n, identifier in enumerate(ids, start=1) if n > 1 and identifier}
    writes: list[dict[str, Any]] = []
    if ["id", *columns] != header:
        writes.append({"range": api.a1(sheet, "A1"), "values": [["id", *columns]]})
    appended, cleared = [], []
    for identifier, (values, deleted) in records.items():
        row = [identifier, *(values.get(name, "") for name in columns)]
        if identifier not in row_of:
            appended += [] if deleted else [row]
        elif deleted:
            cleared.append(row_of[identifier])
        else:
            writes.append({"range": api.a1(sheet, f"A{row_of[identifier]}"), "values": [row]})
    if writes:
        api.write(ctx, sheet_id, writes, input_option)
    if cleared:
        api.clear(ctx, sheet_id, sheet, cleared)
    if appended:
        api.append(ctx, sheet_id, sheet, appended, input_option)


def post_sheets(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Write the batch's records to their sheets: each record's row updated in place when its
    identifier is in column A, else appended; rows of `deleted` records cleared."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for payload in payloads:
        sheet_id = api.spreadsheet_id(payload.get("spreadsheet_id"))
        groups.setdefault((sheet_id, str(payload.get("spreadsheet_name") or "")), []).append(
            payload
        )
    for (sheet_id, sheet), group in groups.items():
        _sync(ctx, sheet_id, sheet, group)


def post_sheet(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one record's row (see `post_sheets`)."""
    post_sheets(ctx, [payload])


def delete_person(ctx: Context, person: Person) -> None:
    """Clear the rows whose identifier is one of the person's ids, in every spreadsheet and sheet
    a subscription names literally; CannotDelete when none does."""
    places: list[tuple[str, str]] = []
    for subscribed in ctx.subscriptions:
        sheet_id, sheet = (
            subscribed.mapping.get(k) for k in ("spreadsheet_id", "spreadsheet_name")
        )
        if isinstance(sheet_id, str) and isinstance(sheet, str):
            place = (api.spreadsheet_id(sheet_id), sheet)
            places += [] if place in places else [place]
    if not places:
        raise CannotDelete("no subscription names its spreadsheet and sheet literally")
    wanted = {*person.user_ids, *person.anonymous_ids, *person.emails}
    for sheet_id, sheet in places:
        _, ids = api.read_columns(ctx, sheet_id, sheet)
        rows = [n for n, identifier in enumerate(ids, start=1) if n > 1 and identifier in wanted]
        if rows:
            api.clear(ctx, sheet_id, sheet, rows)


def check_credentials(ctx: Context) -> None:
    """Exchange the credentials for an access token (no spreadsheet is read or written)."""
    api.access_token(ctx)


DESTINATION = Destination(
    slug="google-sheets",
    name="Google Sheets",
    description="Keep a row per record in a Google Sheets spreadsheet, updated in place.",
    settings={
        "service_account_key": Setting(
            "Service account key",
            "A service account's JSON key (the whole file); share the spreadsheet with its "
            "client_email.",
            secret=True,
        ),
        "oauth_client_id": Setting("OAuth client id", "Instead of a key: your OAuth client."),
        "oauth_client_secret": Setting("OAuth client secret", "Its secret.", secret=True),
        "oauth_refresh_token": Setting(
            "OAuth refresh token",
            "A refresh token granted the spreadsheets scope by a user who can edit the sheet.",
            secret=True,
        ),
        "endpoint": Setting(
            "API endpoint", "Overrides https://sheets.googleapis.com.", target=True
        ),
        "token_url": Setting(
            "Token URL", "Overrides https://oauth2.googleapis.com/token.", target=True
        ),
    },
    actions={
        "post_sheet": Action(
            title="Post Sheet",
            description="Write a record's row: updated when its identifier is in column A, else "
            "appended; cleared when the record is deleted.",
            fields={
                "record_identifier": Field(
                    "Record identifier",
                    "Identifies the row; written to column A.",
                    "string",
                    required=True,
                    default=first_of("$.__segment_id", "$.userId", "$.anonymousId"),
                ),
                "operation_type": Field(
                    "Operation",
                    "deleted clears the record's row; anything else writes it.",
                    "string",
                    default=path("$.__change"),
                ),
                "spreadsheet_id": Field(
                    "Spreadsheet id",
                    "The id in the spreadsheet's URL: docs.google.com/spreadsheets/d/{id}/edit.",
                    "string",
                    required=True,
                ),
                "spreadsheet_name": Field(
                    "Sheet name",
                    "The title of the sheet (tab) to write, which must exist.",
                    "string",
                    required=True,
                    default="Sheet1",
                ),
                "data_format": Field(
                    "Data format",
                    "RAW stores values as they are; USER_ENTERED parses them as typed in Sheets.",
                    "string",
                    choices=("RAW", "USER_ENTERED"),
                    default="RAW",
                ),
                "fields": Field(
                    "Fields",
                    "The columns: a column name on the left, its value on the right.",
                    "object",
                    required=True,
                    default={
                        "email": first_of("$.traits.email", "$.properties.email"),
                        "name": first_of("$.traits.name", "$.properties.name"),
                    },
                ),
            },
            perform=post_sheet,
            perform_batch=post_sheets,
            max_batch=MAX_BATCH,
            default_trigger='type = "identify"',
        ),
    },
    test_authentication=check_credentials,
    delete=delete_person,
    presets=(Preset("A row per user", "post_sheet", 'type = "identify"'),),
    # Sheets allows 60 write requests a minute per user per project; a batch makes 2 or 3.
    rate_limit=1.0,
)
