"""The matching job: proposes merges of people from fuzzy evidence, and makes the sure ones.

One run over a workspace whose identity document enables `matching:`:

1. reads every person's evidence record (`identity.evidence`) and finds those whose record
   changed since the last run (a digest per person);
2. trains the model on every record (unsupervised; the profiles deterministic rules merged are
   left out and check it: how many of those known links it finds is in the run's counts), or
   reuses the one trained before while the `matching:` block is the same and the people have
   not doubled;
3. scores the blocked pairs and keeps those that involve a changed person, reach
   `review_threshold`, were never proposed and are not kept apart (rejected by a reviewer, or
   separated by an unmerge);
4. stores each as a proposal; at or above `threshold` it merges the two at once (kind
   `probabilistic`, with the score) through `identity_link_sql`, the resolver's merge path.

A run claims its workspace for `LEASE`, so the deliver role's loop and `POST
/api/v1/identity/matching/run` never run one workspace twice at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from seamline.errors import InvalidInput, NotFound
from seamline.identity.evidence import digest
from seamline.identity.rules import IdentityRules
from seamline.ops.identity_evidence import evidence_records, known_links
from seamline.store.identity_link_sql import KeptApart, link_people
from seamline.store.identity_matches_sql import (
    MERGED,
    REJECTED,
    SUPERSEDED,
    NewProposal,
    SqlIdentityMatches,
)
from seamline.store.identity_matching_runs_sql import SqlMatchingRuns

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=30)
MATCHING_ACTOR = "matching"
"""`decided_by` of what the job decides itself."""

KNOWN_LINKS = 1000
"""People merged by deterministic rules whose profiles check a newly trained model."""
_NOT_TRAINED = frozenset({"enabled", "threshold", "review_threshold"})

MatchingConfig = Callable[[str], "tuple[dict[str, Any] | None, IdentityRules]"]
"""workspace id → (its normalised `matching:` block or None, its identity rules)."""


class MatchingJob:
    """Runs matching over one workspace at a time; keeps trained models between runs."""

    def __init__(
        self,
        engine: Engine,
        config: MatchingConfig,
        models: dict[str, tuple[str, int, Any]] | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self.store = SqlIdentityMatches(engine)
        self.runs = SqlMatchingRuns(engine)
        # workspace → (what the model was trained for, how many records, the model)
        self._models = {} if models is None else models

    def enabled(self, workspace_id: str) -> bool:
        """Whether the workspace's identity rules turn matching on."""
        matching, _ = self._config(workspace_id)
        return matching is not None and bool(matching.get("enabled"))

    def rules(self, workspace_id: str) -> IdentityRules:
        """The workspace's identity rules in force (a merge never breaks their limits)."""
        return self._config(workspace_id)[1]

    def run_once(self, workspace_id: str) -> dict[str, Any]:
        """One run; returns what it did (`status` and counts), also recorded as the
        workspace's last run."""
        matching, rules = self._config(workspace_id)
        if matching is None or not matching.get("enabled"):
            return {"status": "disabled"}
        now = datetime.now(UTC)
        if not self.runs.claim(workspace_id, now, now + LEASE):
            return {"status": "running elsewhere"}
        try:
            counts = self._run(workspace_id, matching, rules, now)
        except Exception as error:  # recorded; the next run starts from the same digests
            # Refused input (too few people to learn from, an exploding rule) is the user's to
            # fix and says how; only the unexpected needs its traceback.
            expected = isinstance(error, InvalidInput)
            log.warning(
                "identity matching of %s failed: %s", workspace_id, error, exc_info=not expected
            )
            self.runs.finish(workspace_id, datetime.now(UTC), "FAILED", {}, str(error)[:2000])
            return {"status": "FAILED", "error": str(error)}
        self.runs.finish(workspace_id, datetime.now(UTC), "FINISHED", counts, None)
        return {"status": "FINISHED", **counts}

    def _run(
        self, workspace_id: str, matching: dict[str, Any], rules: IdentityRules, now: datetime
    ) -> dict[str, int]:
        records = evidence_records(self._engine, workspace_id, int(matching["max_records"]))
        digests = {pid: digest(record) for pid, record in records.items()}
        before = self.runs.digests(workspace_id)
        changed = {pid for pid, found in digests.items() if before.get(pid) != found}
        counts = {"people": len(records), "changed": len(changed), "proposed": 0, "merged": 0}
        counts["superseded"] = self.store.supersede(workspace_id, records, now)
        counts["restored"] = self._restore(workspace_id, rules, now)
        if changed and len(records) > 1:
            scored, check = self._score(workspace_id, matching, list(records.values()))
            if check is not None:
                # The deterministic links the model was checked on, and how many it finds.
                counts["known_links"] = int(check["known_pairs"])
                counts["known_links_found"] = int(check["found"])
            fresh = self._fresh(workspace_id, scored, changed, matching["review_threshold"])
            for found in fresh:
                merged = self._propose(workspace_id, found, matching["threshold"], rules, now)
                counts["proposed"] += 1
                counts["merged"] += merged
        self.runs.save_digests(workspace_id, digests)
        return counts

    def _restore(self, workspace_id: str, rules: IdentityRules, now: datetime) -> int:
        """Merge again what was merged on evidence before a rebuild or a re-resolution replayed
        the log (the log holds no such merge); returns how many."""
        restored = 0
        for lost in self.store.lost_merges(workspace_id):
            try:
                linked = link_people(
                    self._engine,
                    workspace_id,
                    (lost.left_profile, lost.right_profile),
                    rules,
                    kind="probabilistic" if lost.decided_by == MATCHING_ACTOR else "manual",
                    score=lost.probability,
                    cause=f"proposal:{lost.id}",
                    at=now,
                )
            except (KeptApart, NotFound) as refused:
                # The new rules keep them apart, or a profile is gone (erased): the decision
                # stays on record, the merge does not come back.
                log.info("proposal %s not merged again: %s", lost.id, refused.message)
                self.store.set_merge(workspace_id, lost.id, None)
                continue
            self.store.set_merge(workspace_id, lost.id, None if linked is None else linked.merge_id)
            restored += linked is not None
        return restored

    def _score(
        self, workspace_id: str, matching: dict[str, Any], records: list[dict[str, Any]]
    ) -> tuple[list[Any], dict[str, Any] | None]:
        """The scored pairs, and the model's check against deterministic links (or None)."""
        from seamline.identity.matching.engine import TrainedModel, score, train

        # The thresholds only decide what happens to a score: changing them needs no training.
        trained_for = {k: v for k, v in matching.items() if k not in _NOT_TRAINED}
        fingerprint = json.dumps(trained_for, sort_keys=True)
        cached = self._models.get(workspace_id)
        saved = self.runs.model(workspace_id)
        stored = saved is not None and saved.get("trained_for") == fingerprint
        if saved is not None and stored and (cached is None or cached[0] != fingerprint):
            # Trained by another process (the deliver role, or this one before a restart).
            cached = (fingerprint, int(saved["records"]), TrainedModel(**saved["model"]))
        if cached is None or cached[0] != fingerprint or len(records) >= 2 * cached[1]:
            known = known_links(self._engine, workspace_id, KNOWN_LINKS)
            cached = (fingerprint, len(records), train(records + known, matching))
            stored = False
        self._models[workspace_id] = cached
        if not stored:
            self._save(workspace_id, cached)
        model = cached[2]
        scored = score(model, records, min_probability=matching["review_threshold"])
        return list(scored), model.check

    def _save(self, workspace_id: str, cached: tuple[str, int, Any]) -> None:
        fingerprint, records, model = cached
        saved = {"trained_for": fingerprint, "records": records, "model": model._asdict()}
        try:
            json.dumps(saved, allow_nan=False)  # PostgreSQL's JSON has no NaN
        except (TypeError, ValueError) as error:
            log.warning("the matching model of %s is kept in memory only: %s", workspace_id, error)
            return
        self.runs.save_model(workspace_id, saved)

    def _fresh(
        self, workspace_id: str, scored: Iterable[Any], changed: set[str], at_least: float
    ) -> list[NewProposal]:
        """The scored pairs worth a proposal, most probable first."""
        proposed = self.store.proposed_pairs(workspace_id)
        apart = self.store.kept_apart(workspace_id)
        fresh = []
        for found in scored:
            pair = frozenset((found.left, found.right))
            if found.probability < at_least or not pair & changed:
                continue
            if pair in proposed or pair in apart:
                continue
            proposed.add(pair)
            fresh.append(
                NewProposal(found.left, found.right, found.probability, list(found.comparisons))
            )
        fresh.sort(key=lambda found: -found.probability)
        return fresh

    def _propose(
        self,
        workspace_id: str,
        found: NewProposal,
        threshold: float,
        rules: IdentityRules,
        now: datetime,
    ) -> int:
        """Store `found`; merge it when sure enough. Returns 1 if it merged."""
        proposal_id = self.store.add(workspace_id, found, now)
        if found.probability < threshold:
            return 0
        try:
            linked = link_people(
                self._engine,
                workspace_id,
                (found.left_profile, found.right_profile),
                rules,
                kind="probabilistic",
                score=found.probability,
                cause=f"proposal:{proposal_id}",
                at=now,
            )
        except KeptApart as refused:
            # Limits or an unmerge forbid it; a reviewer sees why in the log, the pair stays
            # decided so it is not scored into a proposal again.
            log.info("proposal %s not merged: %s", proposal_id, refused.message)
            self.store.decide(workspace_id, proposal_id, REJECTED, MATCHING_ACTOR, now)
            return 0
        if linked is None:  # an earlier merge of this run made them one already
            self.store.decide(workspace_id, proposal_id, SUPERSEDED, MATCHING_ACTOR, now)
            return 0
        self.store.decide(
            workspace_id, proposal_id, MERGED, MATCHING_ACTOR, now, merge_id=linked.merge_id
        )
        return 1


def workspace_matching(engine: Engine, fallback: IdentityRules) -> MatchingConfig:
    """Each workspace's `matching:` block and identity rules, from its active identity
    document; a workspace without one yet has matching off and `fallback`'s rules."""

    def read(workspace_id: str) -> tuple[dict[str, Any] | None, IdentityRules]:
        # Imported on first use: the deliver role builds this job whether matching is on or not.
        from seamline.identity.matching.config import normalise_matching
        from seamline.identity.rules_document import rules_from_document
        from seamline.store.identity_rules_sql import SqlIdentityRules

        active = SqlIdentityRules(engine).active(workspace_id)
        if active is None:
            return None, fallback
        matching = active.document.get("matching")
        checked = None if matching is None else normalise_matching(matching)
        return checked, rules_from_document(active.document)

    return read
