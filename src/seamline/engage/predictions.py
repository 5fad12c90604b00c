"""Predictive traits: how likely each profile is to do an event soon, or how much value it brings.

Like Segment's Predictions, a prediction is trained on the workspace's own history with a time
split, checked on a held-out later period against a simple heuristic, then retrained on the most
recent period and used to score every profile as of now. The scores become profile traits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import duckdb
import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped, unused-ignore]

from seamline.engage.prediction_features import (
    EventSource,
    Features,
    align,
    likelihood_metrics,
    value_metrics,
)

# Minimum data. Below these, held-out metrics are too noisy to trust and the model mostly learns
# noise, so training is refused rather than producing confident-looking but meaningless scores.
MIN_HISTORY_HORIZONS = 2  # history must reach back 2 x horizon: one window to train, one to test
MIN_PROFILES = 1_000  # profiles with any event before the training cutoff
MIN_POSITIVES = 50  # profiles that did the event (or brought value) in each labelled window
RANDOM_STATE = 0
# The boosted trees' OpenMP threads busy-wait: next to other CPU work (the pipeline, tests) a
# 3,000-profile run took ~5 s with them against ~1 s on one thread, which is ample for this size.
FIT_THREADS = 1

Report = dict[str, float | int | str | None]


class NotEnoughData(Exception):
    """The history cannot support this prediction; the message says what is missing."""


class PredictionSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What to predict; `key` is the trait name the scores are written under."""

    key: str
    kind: Literal["likelihood", "value"]
    event: str
    horizon_days: int = 30
    value_property: str | None = None
    workspace_id: str | None = None

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise ValueError("horizon_days must be at least 1")
        if self.kind == "value" and not self.value_property:
            raise ValueError("a 'value' prediction needs value_property (e.g. 'revenue')")


@dataclass(frozen=True)
class PredictionResult:
    """Held-out metrics (`report`) and the score of every profile, keyed by canonical id."""

    report: Report
    scores: dict[str, float]
    features: tuple[str, ...] = field(default=())


# A fitted model, as a function from features to one score per profile.
_Scorer = Callable[[Features], npt.NDArray[np.float64]]


def train_and_score(
    conn: duckdb.DuckDBPyConnection,
    spec: PredictionSpec,
    *,
    now: datetime | None = None,
    canonical: Mapping[str, str] | pa.Table | None = None,
) -> PredictionResult:
    """Evaluate on a held-out period, then retrain on the latest one and score every profile.

    `now` defaults to just after the latest stored event; a naive `now` is taken as UTC.
    `canonical` maps raw `profile_id`s of merged profiles to their canonical id: a dict, or an
    Arrow table whose first two columns are the raw and the canonical id.
    Raises NotEnoughData before any training when the history is too thin.
    """
    source = EventSource(
        conn,
        target_event=spec.event,
        value_property=spec.value_property,
        workspace_id=spec.workspace_id,
        canonical=canonical,
    )
    try:
        with threadpool_limits(limits=FIT_THREADS, user_api="openmp"):
            return _run(source, spec, now)
    finally:
        source.close()


def _run(source: EventSource, spec: PredictionSpec, now: datetime | None) -> PredictionResult:
    first, last = source.history_bounds()
    if first is None or last is None:
        raise NotEnoughData(
            f"{spec.key}: no stored events with a profile id to learn from; check workspace_id "
            "and that the pipeline has stored events."
        )
    if now is None:
        # Just past the latest event, so that event falls inside the [now - H, now) window.
        now = last + timedelta(microseconds=1)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    horizon = timedelta(days=spec.horizon_days)
    train_cut, test_cut = now - MIN_HISTORY_HORIZONS * horizon, now - horizon
    if first > train_cut:
        have = max(0.0, (now - first) / timedelta(days=1))
        raise NotEnoughData(
            f"{spec.key}: needs {MIN_HISTORY_HORIZONS * spec.horizon_days} days of history "
            f"({MIN_HISTORY_HORIZONS} x the {spec.horizon_days}-day horizon) but events only "
            f"cover {have:.0f} days. Wait for more history or use a shorter horizon_days."
        )
    value = spec.kind == "value"
    top = source.top_events(train_cut)
    train, test = source.features(train_cut, top), source.features(test_cut, top)
    train_outcomes = source.outcomes(train_cut, test_cut, value=value)
    test_outcomes = source.outcomes(test_cut, now, value=value)
    y_train, y_test = _labels(spec, train_outcomes, train), _labels(spec, test_outcomes, test)
    # Both windows are trained on (the second for the final model), so both must qualify.
    _require(spec, train, y_train, train_cut, test_cut)
    _require(spec, test, y_test, test_cut, now)

    held_out = _fit(spec, train, y_train)(test)
    report: Report = {
        "key": spec.key,
        "kind": spec.kind,
        "event": spec.event,
        "horizon_days": spec.horizon_days,
        "now": now.isoformat(),
        "n_train": len(train.profile_ids),
        "n_test": len(test.profile_ids),
        "positives": int((y_train > 0).sum()),
        "test_positives": int((y_test > 0).sum()),
    }
    if value:
        # Baseline: "the next H days will look like the last H days".
        report |= value_metrics(y_test, held_out, align(train_outcomes, test.profile_ids))
    else:
        report |= likelihood_metrics(y_test, held_out, test.column("target_30d"))

    # Final model: same recipe moved forward one horizon, so it learns from the freshest period.
    final_top = source.top_events(test_cut)
    final_train = test if final_top == top else source.features(test_cut, final_top)
    current = source.features(now, final_top)
    predicted = _fit(spec, final_train, y_test)(current)
    digits = 2 if value else 4
    scores = {
        pid: round(float(score), digits)
        for pid, score in zip(current.profile_ids, predicted, strict=True)
    }
    report["n_scored"] = len(scores)
    return PredictionResult(report, scores, tuple(current.names))


def _labels(
    spec: PredictionSpec, outcomes: Mapping[str, float], features: Features
) -> npt.NDArray[np.float64]:
    y = align(outcomes, features.profile_ids)
    return y if spec.kind == "value" else (y > 0).astype(np.float64)


def _require(
    spec: PredictionSpec,
    features: Features,
    y: npt.NDArray[np.float64],
    start: datetime,
    end: datetime,
) -> None:
    window = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    did = "brought value through" if spec.kind == "value" else "did"
    if len(features.profile_ids) < MIN_PROFILES:
        raise NotEnoughData(
            f"{spec.key}: only {len(features.profile_ids)} profiles had events before "
            f"{start:%Y-%m-%d}; predictions need at least {MIN_PROFILES}. Wait until more "
            "profiles have history, or predict for a larger workspace."
        )
    positives = int((y > 0).sum())
    if positives < MIN_POSITIVES:
        raise NotEnoughData(
            f"{spec.key}: only {positives} profiles {did} '{spec.event}' in {window}; "
            f"predictions need at least {MIN_POSITIVES}. Pick a more frequent event or a longer "
            "horizon_days, or wait for more data."
        )
    if spec.kind == "likelihood" and len(y) - positives < MIN_POSITIVES:
        raise NotEnoughData(
            f"{spec.key}: nearly every profile did '{spec.event}' in {window}, leaving "
            f"{len(y) - positives} that did not; there is nothing to predict. Pick a rarer event "
            "or a shorter horizon_days."
        )


def _fit(spec: PredictionSpec, features: Features, y: npt.NDArray[np.float64]) -> _Scorer:
    # Imported here, not at the top: see prediction_features.likelihood_metrics.
    from sklearn.ensemble import (  # type: ignore[import-untyped, unused-ignore]
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    # Small, slow-learning, regularised trees: a training set may be as small as MIN_PROFILES rows
    # with MIN_POSITIVES positives, where the library defaults leave more room to fit noise.
    shared = {
        "max_iter": 200,
        "learning_rate": 0.05,
        "max_leaf_nodes": 15,
        "l2_regularization": 1.0,
        "early_stopping": False,
        "random_state": RANDOM_STATE,
    }
    if spec.kind == "likelihood":
        classifier = HistGradientBoostingClassifier(**shared).fit(features.matrix, y)
        return lambda f: np.asarray(classifier.predict_proba(f.matrix)[:, 1], dtype=np.float64)
    # Value is zero for most profiles and skewed for the rest: a Poisson loss fits that shape and
    # keeps predictions positive. Refunds (negative sums) need plain squared error.
    loss = "poisson" if float(y.min()) >= 0 else "squared_error"
    regressor = HistGradientBoostingRegressor(loss=loss, **shared).fit(features.matrix, y)
    return lambda f: np.asarray(regressor.predict(f.matrix), dtype=np.float64)


def format_report(result: PredictionResult) -> str:
    """A few human-readable lines summarising the held-out evaluation and the scoring."""
    r = result.report
    lines = [
        f"{r['key']}: {r['kind']} of '{r['event']}' within {r['horizon_days']} days "
        f"(as of {r['now']})",
        f"trained on {r['n_train']} profiles ({r['positives']} positive), "
        f"held out {r['n_test']} ({r['test_positives']} positive)",
    ]
    if r["kind"] == "likelihood":
        lines += [
            f"held-out ROC AUC {r['auc']} vs {r['baseline_auc']} for the baseline "
            f"(target-event count in the last 30 days); positive rate {r['positive_rate']}",
            f"precision in the top decile {r['precision_top_decile']} "
            f"vs {r['baseline_precision_top_decile']} for the baseline",
        ]
    else:
        lines += [
            f"held-out MAE {r['mae']} vs {r['baseline_mae']} for the baseline "
            f"(value in the previous {r['horizon_days']} days); mean value {r['mean_value']}",
            f"Spearman {r['spearman']} vs {r['baseline_spearman']}, "
            f"R² {r['r2']} vs {r['baseline_r2']}",
        ]
    lines.append(f"scored {r['n_scored']} profiles")
    return "\n".join(lines)
