"""The flat events relation the batch engine compiles against, one builder per backend family.

Every backend gives the same columns: `pid` (the canonical profile), `type`, `event`, `ts`, `off`
(log offset), `group_id`, and for each JSON value a definition reads four typed columns —
`_s` (a JSON string), `_n` (a JSON number, as a double), `_b` (a JSON boolean), `_x` (present and
not null) — plus `_has` (the key is present, even as null) for traits, where null removes a trait.

How JSON is read is the one thing the backends differ in: DuckDB and PostgreSQL keep JSON
columns, which Ibis reads portably; Spark keeps JSON text, read here with its VARIANT functions
(Ibis's own JSON support on PySpark goes through Python UDFs that misread strings).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from seamline.engage.needs import ACCOUNT, PROPERTY, TRAIT, Needs


def flat_from_json(events: ir.Table, merges: ir.Table | None, needs: Needs) -> ir.Table:
    """The flat relation from an events table with JSON columns (DuckDB, PostgreSQL).

    `merges` maps merged-away profile ids (`id`) to their canonical profile (`canonical_id`).
    """
    t = events.filter(events.profile_id.notnull())
    if merges is not None:
        t = t.left_join(merges, t.profile_id == merges.id)
        pid = ibis.coalesce(t.canonical_id, t.profile_id)
    else:
        pid = t.profile_id
    columns: dict[str, Any] = {
        "pid": pid,
        "type": t.type,
        "event": t.event,
        "ts": t.timestamp,
        "off": t.log_offset,
        "group_id": t.group_id,
    }
    for path in needs.properties:
        columns.update(_typed(needs.column(PROPERTY, path), _at(t.properties, path)))
    is_identify = t.type == "identify"
    for name in needs.traits:
        own = t.traits[name]
        from_context = t.context["traits"][name]
        value = ibis.cases((is_identify & own.cast("string").notnull(), own), else_=from_context)
        prefix = needs.column(TRAIT, name)
        columns.update(_typed(prefix, value))
        columns[f"{prefix}_has"] = value.cast("string").notnull()
    is_group = t.type == "group"
    for name in needs.account_traits:
        value = t.traits[name]
        prefix = needs.column(ACCOUNT, name)
        columns.update(_typed(prefix, value))
        columns[f"{prefix}_has"] = is_group & value.cast("string").notnull()
    return t.select(**columns)


def _at(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        value = value[part]
    return value


def _typed(prefix: str, value: Any) -> dict[str, Any]:
    raw = value.cast("string")
    return {
        f"{prefix}_s": value.str,
        f"{prefix}_n": value.float,
        f"{prefix}_b": value.bool,
        f"{prefix}_x": raw.notnull() & (raw != "null"),
    }


def flat_spark_sql(events_view: str, merges_view: str | None, needs: Needs) -> str:
    """Spark SQL for the flat relation over a view of the events table with JSON text columns."""
    select = [
        ("COALESCE(m.canonical_id, e.profile_id)" if merges_view else "e.profile_id") + " AS pid",
        "e.type AS type",
        "e.event AS event",
        "CAST(e.timestamp AS TIMESTAMP) AS ts",
        "e.log_offset AS off",
        "e.group_id AS group_id",
    ]
    for path in needs.properties:
        select += _spark_typed(needs.column(PROPERTY, path), "properties", _spark_path(path))
    for name in needs.traits:
        prefix = needs.column(TRAIT, name)
        own = f"variant_get(parse_json(e.traits), '{_spark_path(name)}')"
        ctx = f"variant_get(parse_json(e.context), '$.traits{_spark_path(name)[1:]}')"
        value = f"(CASE WHEN e.type = 'identify' AND {own} IS NOT NULL THEN {own} ELSE {ctx} END)"
        select += [*_spark_value(prefix, value), f"{value} IS NOT NULL AS {prefix}_has"]
    for name in needs.account_traits:
        prefix = needs.column(ACCOUNT, name)
        value = f"variant_get(parse_json(e.traits), '{_spark_path(name)}')"
        select += _spark_value(prefix, value)
        select.append(f"(e.type = 'group' AND {value} IS NOT NULL) AS {prefix}_has")
    joined = f"{events_view} e"
    if merges_view:
        joined += f" LEFT JOIN {merges_view} m ON e.profile_id = m.id"
    return f"SELECT {', '.join(select)} FROM {joined} WHERE e.profile_id IS NOT NULL"


def _spark_path(path: str) -> str:
    # Inside a single-quoted SQL literal: bracket keys in double quotes, quotes dropped.
    return "$" + "".join(
        '["' + part.replace('"', "").replace("'", "") + '"]' for part in path.split(".")
    )


def _spark_typed(prefix: str, column: str, path: str) -> list[str]:
    return _spark_value(prefix, f"variant_get(parse_json(e.{column}), '{path}')")


def _spark_value(prefix: str, value: str) -> list[str]:
    kind = f"schema_of_variant({value})"
    numeric = (
        f"({kind} IN ('TINYINT', 'SMALLINT', 'INT', 'BIGINT', 'FLOAT', 'DOUBLE')"
        f" OR {kind} LIKE 'DECIMAL%')"
    )
    return [
        f"CASE WHEN {kind} = 'STRING' THEN variant_get({value}, '$', 'string') END AS {prefix}_s",
        f"CASE WHEN {numeric} THEN variant_get({value}, '$', 'double') END AS {prefix}_n",
        f"CASE WHEN {kind} = 'BOOLEAN' THEN variant_get({value}, '$', 'boolean') END AS {prefix}_b",
        f"({value} IS NOT NULL AND NOT is_variant_null({value})) AS {prefix}_x",
    ]
