"""The tables Profiles Sync writes, with Segment's documented column names.

Raw tables (`*_updates`) only grow: one row per change, so they hold the whole history of the
graph. Materialized tables hold each canonical profile as it is now: its rows are replaced
when it changes and deleted when it is merged away or deleted.

Column kinds: `text`, `time` (UTC timestamp), `int` (64-bit) and `json` (text holding JSON).
`change` in `id_graph_updates` (`created`, `merged` or `unmerged`) is Seamline's: Segment's
table has no unmerges to tell apart.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["text", "time", "int", "json"]

_STAMPS: dict[str, Kind] = {
    "timestamp": "time",
    "received_at": "time",
    "uuid_ts": "time",
    "seq": "int",
}

RAW: dict[str, dict[str, Kind]] = {
    "id_graph_updates": {
        "id": "text",
        "segment_id": "text",
        "canonical_segment_id": "text",
        "triggering_event_type": "text",
        "triggering_event_id": "text",
        "change": "text",
        **_STAMPS,
    },
    "external_id_mapping_updates": {
        "id": "text",
        "segment_id": "text",
        "external_id_type": "text",
        "external_id_value": "text",
        "external_id_hash": "text",
        "triggering_event_type": "text",
        "triggering_event_id": "text",
        **_STAMPS,
    },
    "profile_traits_updates": {
        "id": "text",
        "canonical_segment_id": "text",
        "segment_id": "text",
        "traits": "json",
        **_STAMPS,
    },
}

MATERIALIZED: dict[str, dict[str, Kind]] = {
    "profile_merges": {"canonical_segment_id": "text", "segment_id": "text", **_STAMPS},
    "user_identifiers": {
        "canonical_segment_id": "text",
        "type": "text",
        "value": "text",
        **_STAMPS,
    },
    "user_traits": {"canonical_segment_id": "text", "name": "text", "value": "json", **_STAMPS},
}

PROFILE_COLUMNS = {
    "id_graph_updates": ("segment_id", "canonical_segment_id"),
    "external_id_mapping_updates": ("segment_id",),
    "profile_traits_updates": ("segment_id", "canonical_segment_id"),
}
"""The columns naming a profile, by raw table: a deleted profile's rows are found by them."""
