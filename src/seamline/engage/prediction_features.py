"""Per-profile features and labels for predictions, computed in DuckDB from the `events` table,
and the metrics that judge a prediction on held-out data.

Everything is expressed relative to a cutoff instant: features only see events strictly before
it, labels only the window after it. Keeping that boundary in SQL (rather than filtering rows in
Python) is what keeps the time split honest and the work inside DuckDB.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

TOP_EVENTS = 10
# Stands in for "never did the target event" in days-since columns; far enough beyond any real
# history that tree splits separate it cleanly from genuine values.
NEVER_DAYS = 10_000.0


@dataclass(frozen=True)
class Features:
    """One row per canonical profile, in `profile_ids` order; columns named by `names`."""

    profile_ids: list[str]
    names: list[str]
    matrix: npt.NDArray[np.float64]

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.matrix[:, self.names.index(name)]


class EventSource:
    """The `events` table seen through the canonical-id mapping and one workspace filter.

    Works on its own cursor so the mapping it registers never leaks into the caller's connection
    and concurrent users of that connection are unaffected.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        target_event: str,
        value_property: str | None,
        workspace_id: str | None,
        canonical: Mapping[str, str] | pa.Table | None,
    ) -> None:
        self._cursor = conn.cursor()
        self._target = target_event
        self._value_property = value_property
        self._mapping = ""
        if canonical is not None and len(canonical) > 0:
            self._mapping = f"canonical_{uuid.uuid4().hex}"
            self._cursor.register(self._mapping, _mapping_table(canonical))
        self._workspace = workspace_id

    def close(self) -> None:
        if self._mapping:
            self._cursor.unregister(self._mapping)
        self._cursor.close()

    def _rows(self, extra: str = "") -> str:
        """A subquery of the usable events with `pid`, `ts`, `event`, `hit` (is the target) and
        `val`; `extra` adds columns (the feature query's `age`, which needs a `$cut`)."""
        pid = "e.profile_id"
        join = ""
        if self._mapping:
            pid = "coalesce(m.canonical_id, e.profile_id)"
            join = f"LEFT JOIN {self._mapping} m ON m.raw_id = e.profile_id"
        value = "NULL::DOUBLE"
        if self._value_property is not None:
            # TRY_CAST: a property sent as text ("12.50") still counts; garbage becomes NULL.
            value = "TRY_CAST(json_extract_string(e.properties, $prop) AS DOUBLE)"
        where = "e.profile_id IS NOT NULL AND e.timestamp IS NOT NULL"
        if self._workspace is not None:
            where += " AND e.workspace_id = $ws"
        return (
            f"SELECT {pid} AS pid, e.timestamp AS ts, e.event AS event,"
            " (e.type = 'track' AND e.event IS NOT DISTINCT FROM $target) AS hit,"
            f" {value} AS val{extra} FROM events e {join} WHERE {where}"
        )

    def _parameters(self, **extra: Any) -> dict[str, Any]:
        parameters: dict[str, Any] = {"target": self._target, **extra}
        if self._value_property is not None:
            # A quoted JSONPath: a bare key starting with `$` or `/` would be read as a path.
            quoted = self._value_property.replace('"', '\\"')
            parameters["prop"] = f'$."{quoted}"'
        if self._workspace is not None:
            parameters["ws"] = self._workspace
        return parameters

    def history_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The first and last event timestamps."""
        row = self._cursor.execute(
            f"SELECT min(ts), max(ts) FROM ({self._rows()})", self._parameters()
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def top_events(self, cut: datetime, limit: int = TOP_EVENTS) -> list[str]:
        """The most frequent track event names before `cut`, other than the target."""
        rows = self._cursor.execute(
            f"SELECT event FROM ({self._rows()}) WHERE ts < $cut AND NOT hit"
            " AND event IS NOT NULL GROUP BY event ORDER BY count(*) DESC, event LIMIT $limit",
            self._parameters(cut=cut, limit=limit),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def features(self, cut: datetime, top: list[str]) -> Features:
        """Features of every profile with at least one event before `cut`."""
        age = ", (epoch($cut::TIMESTAMPTZ) - epoch(e.timestamp)) / 86400.0 AS age"
        columns = [
            # Frequency of the target itself: the strongest single signal, at three horizons.
            ("target_7d", "count(*) FILTER (hit AND age < 7)"),
            ("target_30d", "count(*) FILTER (hit AND age < 30)"),
            ("target_90d", "count(*) FILTER (hit AND age < 90)"),
            ("target_all", "count(*) FILTER (hit)"),
            # Recency; profiles that never did it get NEVER_DAYS rather than NULL.
            ("days_since_target", f"coalesce(min(age) FILTER (hit), {NEVER_DAYS})"),
            ("days_since_first", "max(age)"),
            ("days_since_last", "min(age)"),
            # General engagement, independent of the target.
            ("events_7d", "count(*) FILTER (age < 7)"),
            ("events_30d", "count(*) FILTER (age < 30)"),
            ("distinct_events", "count(DISTINCT event)"),
            # Days are 24-hour buckets counted back from the cutoff, not calendar dates, so the
            # result does not depend on the session time zone.
            ("active_days_30d", "count(DISTINCT floor(age)) FILTER (age < 30)"),
        ]
        if self._value_property is not None:
            columns += [
                ("value_sum", "coalesce(sum(val) FILTER (hit), 0)"),
                ("value_mean", "coalesce(avg(val) FILTER (hit), 0)"),
            ]
        # The common other events (browse, add-to-cart, ...) carry most of the intent signal;
        # counting them both recently and over all history lets the model weigh momentum.
        parameters = self._parameters(cut=cut)
        for index, name in enumerate(top):
            parameters[f"top{index}"] = name
            columns += [
                (f"top{index}_30d", f"count(*) FILTER (event = $top{index} AND age < 30)"),
                (f"top{index}_all", f"count(*) FILTER (event = $top{index})"),
            ]
        select = ", ".join(f"{sql} AS {name}" for name, sql in columns)
        found = self._cursor.execute(
            f"SELECT pid, {select} FROM ({self._rows(age)}) WHERE ts < $cut"
            " GROUP BY pid ORDER BY pid",
            parameters,
        ).fetchnumpy()
        names = [name for name, _ in columns]
        matrix = np.column_stack([np.asarray(found[name], dtype=np.float64) for name in names])
        return Features([str(pid) for pid in found["pid"]], names, matrix)

    def outcomes(self, start: datetime, end: datetime, *, value: bool) -> dict[str, float]:
        """Per profile, within [start, end): how often it did the target event, or with `value`
        the sum of the value property over those events. Absent profiles did nothing (0)."""
        total = "coalesce(sum(val), 0)" if value else "count(*)"
        rows = self._cursor.execute(
            f"SELECT pid, {total} FROM ({self._rows()})"
            " WHERE hit AND ts >= $start AND ts < $end GROUP BY pid",
            self._parameters(start=start, end=end),
        ).fetchall()
        return {str(row[0]): float(row[1]) for row in rows}


def _mapping_table(canonical: Mapping[str, str] | pa.Table) -> pa.Table:
    """The raw -> canonical mapping as a two-column Arrow table (`raw_id`, `canonical_id`)."""
    if isinstance(canonical, pa.Table):
        # Positional, so the caller's column names do not matter.
        raw = canonical.column(0).cast(pa.string())
        merged = canonical.column(1).cast(pa.string())
    else:
        raw = pa.array(list(canonical.keys()), pa.string())
        merged = pa.array(list(canonical.values()), pa.string())
    return pa.table({"raw_id": raw, "canonical_id": merged})


def align(outcomes: Mapping[str, float], profile_ids: list[str]) -> npt.NDArray[np.float64]:
    """The outcome of each profile in `profile_ids` order (0 when absent)."""
    return np.array([outcomes.get(pid, 0.0) for pid in profile_ids], dtype=np.float64)


def _top_decile_precision(y: npt.NDArray[np.float64], score: npt.NDArray[np.float64]) -> float:
    # Equal scores (common for the count baseline) are ranked in profile-id order.
    top = max(1, math.ceil(len(y) / 10))
    order = np.argsort(-score, kind="stable")
    return float(y[order[:top]].mean())


def likelihood_metrics(
    y: npt.NDArray[np.float64], model: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64]
) -> dict[str, float | None]:
    """Held-out ranking quality of `model` scores next to `baseline` scores (0/1 labels `y`)."""
    # Imported here: scikit-learn and SciPy take ~1.5 s to import, which every process that
    # imports Engage (the server, the CLI) would pay without ever training a prediction.
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, unused-ignore]

    return {
        "positive_rate": round(float(y.mean()), 4),
        "auc": round(float(roc_auc_score(y, model)), 4),
        "baseline_auc": round(float(roc_auc_score(y, baseline)), 4),
        "precision_top_decile": round(_top_decile_precision(y, model), 4),
        "baseline_precision_top_decile": round(_top_decile_precision(y, baseline), 4),
    }


def _spearman(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float | None:
    if float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return None  # undefined for a constant series
    from scipy.stats import rankdata  # type: ignore[import-untyped, unused-ignore]

    return round(float(np.corrcoef(rankdata(a), rankdata(b))[0, 1]), 4)


def value_metrics(
    y: npt.NDArray[np.float64], model: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64]
) -> dict[str, float | None]:
    """Held-out error and rank agreement of `model` predictions next to `baseline` ones."""
    from sklearn.metrics import (  # type: ignore[import-untyped, unused-ignore]
        mean_absolute_error,
        r2_score,
    )

    return {
        "mean_value": round(float(y.mean()), 4),
        "mae": round(float(mean_absolute_error(y, model)), 4),
        "baseline_mae": round(float(mean_absolute_error(y, baseline)), 4),
        "spearman": _spearman(y, model),
        "baseline_spearman": _spearman(y, baseline),
        "r2": round(float(r2_score(y, model)), 4),
        "baseline_r2": round(float(r2_score(y, baseline)), 4),
    }
