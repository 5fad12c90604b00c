"""The batch engine: definitions compiled to one Ibis expression over the flat events relation
(`batch_source`), so the same query runs on DuckDB, PostgreSQL or Spark.

Each feature becomes a per-profile aggregate, left-joined onto every profile with an event;
conditions become boolean expressions on that wide table. The comparison rules mirror
`compare.holds`, the reductions `summaries` — the property test in tests/engage holds them to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from seamline.engage.definition import (
    AccountIs,
    All,
    AnyOf,
    Compare,
    Condition,
    EventFilter,
    InAudience,
    Not,
    Performed,
    TraitIs,
)
from seamline.engage.features import (
    Feature,
    Steps,
    conditions_of,
    feature_key,
    of_performed,
    of_sequence,
    of_trait,
)
from seamline.engage.needs import ACCOUNT, PROPERTY, TRAIT, Needs
from seamline.engage.rules import EngageRules

Typed = dict[str, Any]  # "s", "n", "b", "x" → expression (absent: that type never matches)
_NUMBER_KINDS = ("event_counter", "aggregation", "unique_list_count")


def compile_values(rules: EngageRules, flat: ir.Table, now: datetime) -> ir.Table:
    """`pid` and one column per definition key: computed traits' values (null without matching
    events; unique lists unsorted) and audiences' memberships (never null)."""
    return _Compiler(rules, flat, now).values()


def compile_members(rules: EngageRules, key: str, flat: ir.Table, now: datetime) -> ir.Table:
    """The `pid` of every member of audience `key`."""
    values = compile_values(rules.only([key]), flat, now)
    return values.filter(values[key]).select("pid")


class _Compiler:
    def __init__(self, rules: EngageRules, flat: ir.Table, now: datetime) -> None:
        self.rules = rules
        self.flat = flat
        self.now = now
        self.needs: Needs = rules.needs
        wide = flat.select("pid").distinct()
        self.columns: dict[str, str] = {}
        parts: list[tuple[ir.Table, dict[str, str]]] = []
        for key, feature in rules.features.items():
            self.columns[key] = f"f_{key}"
            parts.append((self._feature(feature), {"v": f"f_{key}"}))
        for name in self.needs.traits:
            prefix = self.needs.column(TRAIT, name)
            parts.append((self._latest_traits(prefix), {}))
        # Equal account conditions (frozen, so hashable) share one column.
        self.accounts: dict[AccountIs, str] = {}
        for condition in self._account_conditions():
            if condition not in self.accounts:
                column = self.accounts[condition] = f"acct_{len(self.accounts)}"
                parts.append((self._accounts_meeting(condition), {"v": column}))
        for table, renames in parts:
            table = table.rename({new: old for old, new in renames.items()}) if renames else table
            joined = wide.left_join(table, wide.pid == table.pid)
            wide = joined.drop("pid_right") if "pid_right" in joined.columns else joined
        self.wide = wide

    def values(self) -> ir.Table:
        w = self.wide
        out: dict[str, Any] = {"pid": w.pid}
        for key, trait in self.rules.traits.items():
            out[key] = w[self.columns[feature_key(of_trait(trait))]]
        memo: dict[str, Any] = {}
        for key in self.rules.audiences:
            out[key] = ibis.coalesce(self._audience(key, memo), False)
        return w.select(**out)

    # -- features -------------------------------------------------------------------------------

    def _matching(self, events: EventFilter, window: int | None) -> ir.Table:
        f = self.flat
        condition = (f.type == "track") & (f.event == events.event)
        for compare in events.where:
            condition &= _compare(compare, self._typed(f, PROPERTY, compare.path))
        if window is not None:
            condition &= f.ts >= ibis.literal(self.now - timedelta(seconds=window))
        return f.filter(condition)

    def _feature(self, feature: Feature) -> ir.Table:
        if isinstance(feature, Steps):
            return self._sequence(feature)
        rows = self._matching(feature.events, feature.window)
        if feature.kind == "event_counter":
            return rows.group_by("pid").agg(v=rows.count())
        assert feature.property is not None
        suffix = "_n" if feature.value_type == "number" else "_s"
        column = self.needs.column(PROPERTY, feature.property) + suffix
        rows = rows.filter(rows[column].notnull()).mutate(val=rows[column])
        kind = feature.kind
        if kind == "aggregation":
            reduce = {"sum": rows.val.sum, "avg": rows.val.mean, "min": rows.val.min}
            return rows.group_by("pid").agg(v=reduce.get(feature.function or "", rows.val.max)())
        if kind == "unique_list_count":
            return rows.group_by("pid").agg(v=rows.val.nunique())
        if kind == "unique_list":
            distinct = rows.select("pid", "val").distinct()
            return distinct.group_by("pid").agg(v=distinct.val.collect())
        if kind == "most_frequent":
            counts = rows.group_by(["pid", "val"]).agg(c=rows.count())
            rank = ibis.row_number().over(
                group_by=counts.pid, order_by=[counts.c.desc(), counts.val.asc()]
            )
            top = counts.mutate(r=rank)
            return top.filter(top.r == 0).select("pid", v=top.val)
        order = (
            [rows.ts.asc(), rows.off.asc()]
            if kind == "first"
            else [rows.ts.desc(), rows.off.desc()]
        )
        ranked = rows.mutate(r=ibis.row_number().over(group_by=rows.pid, order_by=order))
        return ranked.filter(ranked.r == 0).select("pid", v=ranked.val)

    def _sequence(self, steps: Steps) -> ir.Table:
        first = self._matching(steps.steps[0], steps.window).select(pid="pid", t0="ts")
        chain = first
        within = ibis.interval(seconds=steps.within)
        for index, step in enumerate(steps.steps[1:], start=1):
            # A view: steps may be the same event, and Ibis needs the self-join told apart.
            rows = self._matching(step, None).select(qid="pid", t="ts").view()
            prev = chain[f"t{index - 1}"]
            chain = chain.join(
                rows,
                [chain.pid == rows.qid, rows.t > prev, rows.t <= chain.t0 + within],
            ).select(*[c for c in chain.columns], **{f"t{index}": rows.t})
        return chain.select("pid").distinct().mutate(v=ibis.literal(True))

    def _latest_traits(self, prefix: str) -> ir.Table:
        f = self.flat
        rows = f.filter(f[f"{prefix}_has"])
        rank = ibis.row_number().over(group_by=rows.pid, order_by=[rows.ts.desc(), rows.off.desc()])
        ranked = rows.mutate(r=rank)
        latest = ranked.filter(ranked.r == 0)
        return latest.select("pid", *[f"{prefix}_{kind}" for kind in "snbx"])

    def _account_conditions(self) -> list[AccountIs]:
        found: list[AccountIs] = []
        for audience in self.rules.audiences.values():
            found += [c for c in conditions_of(audience.condition) if isinstance(c, AccountIs)]
        return found

    def _accounts_meeting(self, condition: AccountIs) -> ir.Table:
        f = self.flat
        groups = f.filter((f.type == "group") & f.group_id.notnull())
        members = groups.select(mpid="pid", gid="group_id").distinct()
        prefix = self.needs.column(ACCOUNT, condition.compare.path)
        rows = groups.filter(groups[f"{prefix}_has"])
        rank = ibis.row_number().over(
            group_by=rows.group_id, order_by=[rows.ts.desc(), rows.off.desc()]
        )
        ranked = rows.mutate(r=rank)
        latest = ranked.filter(ranked.r == 0).select(
            tgid="group_id", **{kind: ranked[f"{prefix}_{kind}"] for kind in "snbx"}
        )
        accounts = groups.select(agid="group_id").distinct()
        traits = accounts.left_join(latest, accounts.agid == latest.tgid)
        typed = {kind: traits[kind] for kind in "snbx"}
        typed["x"] = ibis.coalesce(traits.x, False)
        meeting = traits.filter(_compare(condition.compare, typed)).select("agid")
        joined = members.join(meeting, members.gid == meeting.agid)
        return joined.select(pid=joined.mpid).distinct().mutate(v=ibis.literal(True))

    # -- conditions -----------------------------------------------------------------------------

    def _typed(self, table: ir.Table, family: str, name: str) -> Typed:
        prefix = self.needs.column(family, name)
        typed = {kind: table[f"{prefix}_{kind}"] for kind in "snbx"}
        typed["x"] = ibis.coalesce(typed["x"], False)
        return typed

    def _audience(self, key: str, memo: dict[str, Any]) -> Any:
        if key not in memo:
            memo[key] = self._condition(self.rules.audiences[key].condition, memo)
        return memo[key]

    def _condition(self, condition: Condition, memo: dict[str, Any]) -> Any:
        w = self.wide
        if isinstance(condition, All | AnyOf):
            parts = [self._condition(part, memo) for part in condition.parts]
            result = parts[0]
            for part in parts[1:]:
                result = (result & part) if isinstance(condition, All) else (result | part)
            return result
        if isinstance(condition, Not):
            return ~self._condition(condition.part, memo)
        if isinstance(condition, Performed):
            count = ibis.coalesce(w[self.columns[feature_key(of_performed(condition))]], 0)
            if condition.op == ">=":
                return count >= condition.count
            return count <= condition.count if condition.op == "<=" else count == condition.count
        if isinstance(condition, InAudience):
            return ibis.coalesce(self._audience(condition.key, memo), False)
        if isinstance(condition, TraitIs):
            return _compare(condition.compare, self._trait(condition.compare.path, memo))
        if isinstance(condition, AccountIs):
            return ibis.coalesce(w[self.accounts[condition]], False)
        column = self.columns[feature_key(of_sequence(condition))]
        return ibis.coalesce(w[column], False)

    def _trait(self, name: str, memo: dict[str, Any]) -> Typed:
        w = self.wide
        if name in self.rules.audiences:
            return {"b": ibis.coalesce(self._audience(name, memo), False), "x": ibis.literal(True)}
        trait = self.rules.traits.get(name)
        if trait is None:
            return self._typed(w, TRAIT, name)
        column = w[self.columns[feature_key(of_trait(trait))]]
        typed: Typed = {"x": column.notnull()}
        if trait.kind in _NUMBER_KINDS or trait.value_type == "number":
            typed["n"] = column.cast("float64")
        elif trait.kind != "unique_list":
            typed["s"] = column
        return typed


def _compare(compare: Compare, typed: Typed) -> Any:
    """The SQL twin of `compare.holds`: never null."""
    op, value = compare.op, compare.value
    if op == "exists":
        return typed["x"]
    if op == "not_exists":
        return ~typed["x"]
    if op in ("=", "!="):
        kind = "b" if isinstance(value, bool) else "s" if isinstance(value, str) else "n"
        column = typed.get(kind)
        equal = ibis.literal(False) if column is None else ibis.coalesce(column == value, False)
        return equal if op == "=" else ~equal
    if op in (">", ">=", "<", "<="):
        number = typed.get("n")
        if number is None:
            return ibis.literal(False)
        compared = {
            ">": number > value, ">=": number >= value, "<": number < value, "<=": number <= value,
        }[op]  # fmt: skip
        return ibis.coalesce(compared, False)
    text = typed.get("s")
    if text is None:
        found = ibis.literal(False)
    elif op in ("contains", "not_contains"):
        found = ibis.coalesce(text.contains(value), False)
    elif op == "starts_with":
        found = ibis.coalesce(text.startswith(value), False)
    else:
        found = ibis.coalesce(text.endswith(value), False)
    return ~found if op == "not_contains" else found


def rows_of(table: Any, keys: Iterable[str], rules: EngageRules) -> dict[str, dict[str, Any]]:
    """{pid: {key: value}} from an executed `compile_values` (a pyarrow Table), with lists
    sorted and counts as integers, as the real-time engine gives them."""
    keys = list(keys)
    out: dict[str, dict[str, Any]] = {}
    columns = {name: table.column(name).to_pylist() for name in ["pid", *keys]}
    for index, pid in enumerate(columns["pid"]):
        row: dict[str, Any] = {}
        for key in keys:
            value = columns[key][index]
            trait = rules.traits.get(key)
            if trait is not None and value is not None:
                if trait.kind == "unique_list":
                    value = sorted(value)
                elif trait.kind in ("event_counter", "unique_list_count"):
                    value = int(value)
                elif trait.kind == "aggregation" or trait.value_type == "number":
                    value = float(value)
            row[key] = value
        out[pid] = row
    return out
