"""Predictions learn a planted purchase signal from synthetic history and score every profile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest

from seamline.engage.predictions import (
    NotEnoughData,
    PredictionResult,
    PredictionSpec,
    format_report,
    train_and_score,
)
from seamline.store.event_rows import COLUMNS

START = datetime(2024, 1, 1, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000
OTHER_EVENTS = ("Page Viewed", "Searched", "Signed In", "Email Opened", "Wishlist Viewed")
LIKELY = PredictionSpec(key="likely_to_buy", kind="likelihood", event="Order Completed")
VALUE = PredictionSpec(
    key="predicted_ltv", kind="value", event="Order Completed", value_property="revenue"
)


@dataclass
class History:
    conn: duckdb.DuckDBPyConnection
    ids: npt.NDArray[np.str_]
    shopping_now: npt.NDArray[np.bool_]  # in a shopping spell, with a cart, when history ends
    future_value: npt.NDArray[np.float64]  # revenue in the `future` days after history ends


def empty_store() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    columns = ", ".join(f'"{name}" {sql}' for name, sql in COLUMNS)
    conn.execute(f"CREATE TABLE events ({columns})")
    return conn


def synthesise(profiles: int, days: int, seed: int = 7, future: int = 30) -> History:
    """Browsing history where buying follows "shopping spells".

    A spell is a run of days with many product views; most spells lead to an add-to-cart, and
    three carts in four turn into an order 3-25 days later. Orders outside that path are rare
    noise. Profiles differ in how often they start spells and in what they spend per order.
    The story runs `future` days past the stored history, to know what each profile then did.
    """
    rng = np.random.default_rng(seed)
    propensity = rng.gamma(0.3, 0.012, profiles)  # chance per day of starting a spell
    activity = rng.gamma(2.0, 0.25, profiles)  # background events per day
    order_value = rng.lognormal(3.5, 0.6, profiles)
    signup = rng.integers(0, days // 2, profiles)
    counts = np.zeros((profiles, days + future, 3 + len(OTHER_EVENTS)), dtype=np.int64)
    spell_left = np.zeros(profiles, dtype=np.int64)
    carted = np.zeros(profiles, dtype=bool)
    order_day = np.full(profiles, -1, dtype=np.int64)
    shopping_now = np.zeros(profiles, dtype=bool)
    for day in range(days + future):
        alive = day >= signup
        starts = alive & (spell_left == 0) & (rng.random(profiles) < propensity)
        spell_left[starts] = rng.integers(10, 40, int(starts.sum()))
        carted[starts] = False
        shopping = spell_left > 0
        views = rng.poisson(0.15 * activity + 2.0 * shopping) * alive
        carts = rng.poisson(0.01 + 0.12 * shopping) * alive
        first_cart = (carts > 0) & shopping & ~carted
        carted |= first_cart
        will_buy = first_cart & (rng.random(profiles) < 0.75)
        order_day[will_buy] = day + rng.integers(3, 26, int(will_buy.sum()))
        # Browsing goes on until the order.
        spell_left[will_buy] = np.maximum(spell_left[will_buy], order_day[will_buy] - day)
        orders = ((order_day == day) | (rng.random(profiles) < 0.0001)) & alive
        others = rng.poisson(np.outer(activity, np.full(len(OTHER_EVENTS), 0.2))) * alive[:, None]
        counts[:, day, 0], counts[:, day, 1], counts[:, day, 2] = views, carts, orders
        counts[:, day, 3:] = others
        spell_left = np.maximum(spell_left - 1, 0)
        spell_left[order_day == day] = 0  # an order ends the spell
        if day == days - 1:
            shopping_now = (spell_left > 0) & carted
    names = np.array(["Product Viewed", "Added to Cart", "Order Completed", *OTHER_EVENTS])

    # One row per event: expand the (profile, day, event) count grid, then jitter within the day.
    flat = counts.ravel()
    cells = np.repeat(np.arange(flat.size), flat)
    profile, rest = np.divmod(cells, (days + future) * len(names))
    on_day, kind = np.divmod(rest, len(names))
    micros = (on_day * DAY_US + rng.integers(0, DAY_US, cells.size)).astype(np.int64)
    micros += int(START.timestamp() * 1_000_000)
    ids = np.array([f"p{i:05d}" for i in range(profiles)])
    revenue = np.round(order_value[profile] * rng.lognormal(0.0, 0.3, cells.size), 2)
    later = on_day >= days
    bought = later & (names[kind] == "Order Completed")
    future_value = np.zeros(profiles)
    np.add.at(future_value, profile[bought], revenue[bought])
    stored = ~later
    rows = pa.table(
        {
            "profile_id": pa.array(ids[profile[stored]]),
            "event": pa.array(names[kind[stored]]),
            "timestamp": pa.array(micros[stored], pa.timestamp("us", tz="UTC")),
            "revenue": pa.array(revenue[stored]),
        }
    )
    conn = empty_store()
    conn.register("incoming", rows)
    conn.execute(
        "INSERT INTO events (log_offset, workspace_id, source_id, message_id, type, event,"
        " timestamp, received_at, properties, profile_id)"
        " SELECT row_number() OVER (), 'default', 'web', uuid()::VARCHAR, 'track', event,"
        " timestamp, timestamp, CASE WHEN event = 'Order Completed'"
        " THEN json_object('revenue', revenue) ELSE json_object('path', '/') END, profile_id"
        " FROM incoming"
    )
    conn.unregister("incoming")
    # One identify call per profile at signup: no event name, but it makes the profile known.
    signed_up = pa.table(
        {
            "profile_id": pa.array(ids),
            "timestamp": pa.array(
                signup * DAY_US + int(START.timestamp() * 1_000_000), pa.timestamp("us", tz="UTC")
            ),
        }
    )
    conn.register("signed_up", signed_up)
    conn.execute(
        "INSERT INTO events (log_offset, workspace_id, source_id, message_id, type, timestamp,"
        " received_at, traits, profile_id)"
        " SELECT 0, 'default', 'web', uuid()::VARCHAR, 'identify', timestamp, timestamp,"
        " '{}', profile_id FROM signed_up"
    )
    conn.unregister("signed_up")
    return History(conn, ids, shopping_now, future_value)


def number(result: PredictionResult, key: str) -> float:
    value = result.report[key]
    assert isinstance(value, int | float), f"{key} is {value!r}"
    return value


@pytest.fixture(scope="module")
def history() -> Iterator[History]:
    built = synthesise(profiles=3_000, days=120)
    yield built
    built.conn.close()


@pytest.fixture(scope="module")
def likely(history: History) -> PredictionResult:
    result = train_and_score(history.conn, LIKELY)
    print("\n" + format_report(result))
    return result


def test_the_model_beats_the_recency_baseline_on_held_out_data(likely: PredictionResult) -> None:
    auc, baseline = number(likely, "auc"), number(likely, "baseline_auc")
    print(f"\nheld-out AUC: model {auc}, baseline {baseline}")
    assert auc > 0.7
    assert auc > baseline
    assert number(likely, "positives") >= 50
    assert number(likely, "n_train") >= 1_000


def test_every_profile_gets_a_probability(history: History, likely: PredictionResult) -> None:
    assert set(likely.scores) == set(history.ids.tolist())
    assert all(0.0 <= score <= 1.0 for score in likely.scores.values())
    assert all(round(score, 4) == score for score in likely.scores.values())


def test_profiles_with_the_planted_signal_score_higher(
    history: History, likely: PredictionResult
) -> None:
    scores = np.array([likely.scores[pid] for pid in history.ids])
    shopping, others = scores[history.shopping_now], scores[~history.shopping_now]
    print(f"\nmean score: shopping {shopping.mean():.3f}, others {others.mean():.3f}")
    assert shopping.size >= 20
    assert shopping.mean() > 2 * others.mean()
    # And the scores rank who really orders in the 30 days after the history ends.
    # (scikit-learn and SciPy imported here: at import they cost every xdist worker ~1 s.)
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, unused-ignore]

    ordered = history.future_value > 0
    future_auc = roc_auc_score(ordered, scores)
    print(f"AUC against what happened next: {future_auc:.3f}")
    assert future_auc > 0.7


def test_value_predictions_follow_the_planted_value(history: History) -> None:
    result = train_and_score(history.conn, VALUE)
    print("\n" + format_report(result))
    predicted = np.array([result.scores[pid] for pid in history.ids])
    assert (predicted >= 0).all()
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]

    spearman = stats.spearmanr(predicted, history.future_value).statistic
    print(f"\nSpearman with the value actually brought in the next 30 days: {spearman:.3f}")
    assert spearman > 0.15
    assert np.corrcoef(predicted, history.future_value)[0, 1] > 0.25
    assert number(result, "spearman") > 0.15
    assert number(result, "mae") < number(result, "baseline_mae")


def test_a_thin_history_is_refused_with_a_reason(history: History) -> None:
    tiny = synthesise(profiles=50, days=40)
    with pytest.raises(NotEnoughData, match=r"needs 60 days of history .* only cover \d+ days"):
        train_and_score(tiny.conn, LIKELY)
    # Long enough, but far too few profiles.
    few = synthesise(profiles=200, days=90)
    with pytest.raises(NotEnoughData, match=r"predictions need at least 1000"):
        train_and_score(few.conn, LIKELY)
    # Plenty of profiles, but almost nobody does the event.
    rare = PredictionSpec(key="likely_to_search", kind="likelihood", event="Never Happens")
    with pytest.raises(NotEnoughData, match=r"only 0 profiles did 'Never Happens'"):
        train_and_score(history.conn, rare)


@pytest.mark.parametrize("as_table", [False, True], ids=["dict", "arrow"])
def test_merged_profiles_are_scored_once(
    history: History, likely: PredictionResult, as_table: bool
) -> None:
    merged = {"p00001": "c-merged", "p00002": "c-merged"}
    canonical = pa.table({"raw": list(merged), "to": list(merged.values())}) if as_table else merged
    result = train_and_score(history.conn, LIKELY, canonical=canonical)
    assert "c-merged" in result.scores
    assert "p00001" not in result.scores and "p00002" not in result.scores
    assert len(result.scores) == len(likely.scores) - 1


def test_a_spec_validates_itself() -> None:
    with pytest.raises(ValueError, match="value_property"):
        PredictionSpec(key="ltv", kind="value", event="Order Completed")
    with pytest.raises(ValueError, match="horizon_days"):
        PredictionSpec(key="x", kind="likelihood", event="Order Completed", horizon_days=0)


def test_workspace_filter_and_explicit_now(history: History) -> None:
    spec = PredictionSpec(
        key="likely_to_buy", kind="likelihood", event="Order Completed", workspace_id="other"
    )
    with pytest.raises(NotEnoughData, match="no stored events"):
        train_and_score(history.conn, spec)
    early = START + timedelta(days=100)
    result = train_and_score(history.conn, LIKELY, now=early.replace(tzinfo=None))
    assert result.report["now"] == early.isoformat()
