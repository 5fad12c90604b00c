"""Train a Fellegi-Sunter model without labels and score profile pairs with it (Splink, DuckDB).

`train` estimates `u` (how often two different people agree at each level) from random pairs
and `m` (how often the same person does) by expectation maximisation over the pairs each
blocking rule makes. `score` compares the pairs the blocking rules make and returns those at or
above a probability, each with the per-field levels and Bayes factors that produced it.

Scoring is pairwise; no clustering happens here. The product merges a proposal's two profiles
in the identity graph, where merges are transitive, so auto-merged pairs join into connected
components, the same result as clustering the pairs at the merge threshold.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from seamline.errors import InvalidInput
from seamline.identity.matching import splink_model
from seamline.identity.matching.config import normalise_matching
from seamline.identity.matching.explain import comparisons_of, level_labels
from seamline.identity.matching.records import Prepared, arrow_table, pairs_per_rule, prepare

MIN_EM_PAIRS = 10
SEED = 7
"""Fixed, so the same records train the same model (u sampling is random)."""


class TrainedModel(NamedTuple):
    """A trained model; plain data (JSON-serialisable), so it can be stored and reloaded.

    `splink_settings` is Splink's model (its settings with every m and u); `check` compares the
    model with known links when records carried `known_id` (see `train`), else None.
    """

    config: dict[str, Any]
    splink_settings: dict[str, Any]
    link_only: bool
    records: int
    check: dict[str, Any] | None


class Proposal(NamedTuple):
    """Two profiles that may be one person: `comparisons` is one dict per field with `field`,
    `left`, `right` (normalised values), `level` (the label of the level they agreed at) and
    `bayes_factor` (how much that level multiplied the odds of a match)."""

    left: str
    right: str
    probability: float
    comparisons: list[dict[str, Any]]


def train(
    records: Iterable[Mapping[str, Any]], config: Any, *, link_only: bool = False
) -> TrainedModel:
    """Train on `records` (dicts with `profile_id` plus the config's fields) without labels.

    `link_only`: records carry `source` and only pairs from different sources are compared
    (linking two lists, as in FEBRL4). Records that carry `known_id` (e.g. profiles a
    deterministic rule linked) are not used to train; afterwards the share of their pairs the
    model scores at or above `review_threshold` is reported in `check`. Raises `InvalidInput`
    on bad config or records and when a blocking rule would make more than `max_pairs` pairs.
    """
    cfg = normalise_matching(config)
    listed = list(records)
    prepared = prepare(listed, cfg)
    tables = _tables(prepared, cfg, link_only)
    linker = _linker(tables, splink_model.settings(cfg, link_only=link_only))
    # One chunk: Splink's default of ten re-runs the sample query per chunk until every level
    # has 100 pairs, 80 queries on a small workspace for the same estimate.
    linker.training.estimate_u_using_random_sampling(
        max_pairs=cfg["u_sample_pairs"], seed=SEED, num_chunks=1
    )
    with_u = linker.misc.save_model_to_json()
    counts = pairs_per_rule(prepared, cfg, link_only=link_only)
    # Too few pairs to tell matches from non-matches: nothing to learn from such a rule.
    rules = [r for r, n in zip(cfg["blocking_rules"], counts, strict=True) if n >= MIN_EM_PAIRS]
    while rules:
        diverged = _expectation_maximisation(linker, rules)
        if diverged is None:
            break
        # EM diverges on a block where (nearly) every pair is a match: the odds within it go
        # to infinity. Start again from u without that rule, so the prior stays the median of
        # the sessions that worked (Splink's estimate from every session), not a NaN.
        del rules[diverged]
        linker = _linker(tables, with_u)
    if not rules:
        raise InvalidInput(
            f"matching: too little to learn from: {len(prepared.profile_ids)} people with "
            f"evidence, and no blocking rule pairs at least {MIN_EM_PAIRS} of them (some not "
            "matches); matching needs hundreds of people, or add a looser blocking rule"
        )
    trained = linker.misc.save_model_to_json()
    model = TrainedModel(
        config=cfg,
        splink_settings=trained,
        link_only=link_only,
        records=len(prepared.profile_ids),
        check=None,
    )
    return model._replace(check=_known_link_check(model, listed))


def score(
    model: TrainedModel,
    records: Iterable[Mapping[str, Any]],
    *,
    min_probability: float | None = None,
) -> list[Proposal]:
    """Proposals for the pairs the blocking rules make, at or above `min_probability` (default:
    the config's `review_threshold`), most probable first. Raises `InvalidInput` as `train`."""
    cfg = model.config
    prepared = prepare(records, cfg)
    floor = cfg["review_threshold"] if min_probability is None else min_probability
    linker = _linker(_tables(prepared, cfg, model.link_only), model.splink_settings)
    rows = linker.inference.predict(threshold_match_probability=floor).as_record_list()
    labels = level_labels(model.splink_settings)
    proposals = []
    for row in rows:
        left = prepared.profile_ids[row["unique_id_l"]]
        right = prepared.profile_ids[row["unique_id_r"]]
        probability = float(row["match_probability"])
        if not math.isfinite(probability) or probability < floor:
            continue
        comparisons = comparisons_of(row, labels)
        if left > right:
            left, right = right, left
            comparisons = [{**c, "left": c["right"], "right": c["left"]} for c in comparisons]
        proposals.append(Proposal(left, right, probability, comparisons))
    proposals.sort(key=lambda p: (-p.probability, p.left, p.right))
    return proposals


def _expectation_maximisation(linker: Any, rules: list[dict[str, Any]]) -> int | None:
    """Run one EM session per rule (each learns m of the fields its rule does not fix, and a
    prior); the index of the first rule whose session diverged, or None when all converged."""
    from splink.internals.exceptions import SplinkException

    for index, rule in enumerate(rules):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                splink_model.blocking_rule(rule),
                populate_probability_two_random_records_match_from_trained_values=True,
                record_sample_proportion=1.0,
            )
        except SplinkException:
            return index
        if not _finite(linker.misc.save_model_to_json()):
            return index
    return None


def _tables(prepared: Prepared, cfg: Mapping[str, Any], link_only: bool) -> Any:
    """The records registered with a new in-memory DuckDB, after refusing any exploding rule."""
    counts = pairs_per_rule(prepared, cfg, link_only=link_only)
    for index, (rule, count) in enumerate(zip(cfg["blocking_rules"], counts, strict=True)):
        if count > cfg["max_pairs"]:
            raise InvalidInput(
                f"matching.blocking_rules[{index}] {rule} would compare {count:,} pairs, more "
                f"than max_pairs ({cfg['max_pairs']:,}): add a field to the rule",
                details={"rule": index, "pairs": count, "max_pairs": cfg["max_pairs"]},
            )
    from splink import DuckDBAPI

    db_api = DuckDBAPI()
    if not link_only:
        return db_api.register(arrow_table(prepared), table_name="records")
    sides = sorted({s for s in prepared.sources if s is not None})
    if len(sides) != 2 or None in prepared.sources:
        raise InvalidInput("matching: linking needs every record's source, two sources")
    return [
        db_api.register(
            arrow_table(prepared, [i for i, s in enumerate(prepared.sources) if s == side]),
            table_name=f"source_{n}",
        )
        for n, side in enumerate(sides)
    ]


def _linker(tables: Any, settings: Any) -> Any:
    from splink import Linker

    # Splink logs each training step, and warns of levels no pair reached (their m keeps its
    # default); the model and its check say what was learnt.
    logging.getLogger("splink").setLevel(logging.ERROR)
    # Validation re-parses every comparison's SQL (about a second a linker); the settings come
    # from splink_model and the columns from records.py, so they always agree.
    return Linker(tables, settings, log_level=None, validate_settings=False)


def _finite(settings: Mapping[str, Any]) -> bool:
    """Whether every probability in a Splink model is a number (EM can leave NaN behind)."""
    values = [settings["probability_two_random_records_match"]]
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            values += [level.get("m_probability"), level.get("u_probability")]
    return all(v is None or (isinstance(v, int | float) and math.isfinite(v)) for v in values)


def _known_link_check(
    model: TrainedModel, records: list[Mapping[str, Any]]
) -> dict[str, Any] | None:
    groups: dict[str, list[str]] = {}
    for record in records:
        known = record.get("known_id")
        if isinstance(known, str) and known:
            groups.setdefault(known, []).append(str(record["profile_id"]))
    known_pairs = {
        (min(a, b), max(a, b))
        for members in groups.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }
    if not known_pairs:
        return None
    found = {(p.left, p.right) for p in score(model, records)} & known_pairs
    return {
        "known_pairs": len(known_pairs),
        "found": len(found),
        "recall": len(found) / len(known_pairs),
    }
