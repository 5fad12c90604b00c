"""Running deletion regulations in the pipeline's process.

A worker claims a regulation with work due, then:
1. waits until every collect worker has read the new suppression (`SETTLE`), so no message of
   the person reaches the log after the log is erased;
2. asks the pipeline runner for a pause between two batches (`PipelineRunner.exclusively`) and
   erases the person from the log, the event store, the state store and the dedup store, in
   that order, each a target with its own status;
3. asks each destination instance to delete the person (when the regulation type says so),
   retrying failures with the deliveries' backoff until `MAX_ATTEMPTS`.
A regulation is saved after every step, so a restart goes on where it stopped: erasing twice
finds nothing the second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine

from seamline.destinations.deletion import delete_person, retry_in
from seamline.destinations.errors import DeliveryError, RetryableError
from seamline.engage.effects import messages_for
from seamline.engage.realtime import Change
from seamline.identity.identifiers import identifiers_of
from seamline.log.erase import erase_from_log, needles_of
from seamline.ops.regulations import (
    STORE_PREFIX,
    merge_people,
    person_digests,
    person_json,
    person_of,
    resolve_person,
)
from seamline.privacy.regulations import (
    ENDED,
    FAILED,
    FINISHED,
    NOT_SUPPORTED,
    RUNNING,
    Regulation,
    TargetStatus,
    overall,
)
from seamline.privacy.subject import Person
from seamline.privacy.suppression import WORKSPACE_WIDE
from seamline.roles.log_access import LogAccess
from seamline.roles.parts import Parts
from seamline.spec.envelope import Envelope, Item
from seamline.store.erase_state import checkpoint, erase_state
from seamline.store.lake_rewrite import (
    Rewrite,
    candidate_files,
    erase_person,
    person_condition,
    rewrite_where,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

SETTLE = 2.5
"""Seconds after a regulation is created before its log erasure starts: collect workers read
suppressions again every second (`SuppressedAtCollect`)."""
HOLD = timedelta(minutes=10)
"""How long a claim keeps other workers off a regulation (a crashed worker's claim expires)."""
MAX_ATTEMPTS = 8
POLL = 1.0

Exclusive = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


class RegulationWorker:
    """`exclusive(work)` runs `work` while the pipeline is paused between batches;
    `forget(keys)` removes (source id, messageId) keys from the dedup store."""

    def __init__(
        self,
        parts: Parts,
        logs: LogAccess,
        exclusive: Exclusive,
        forget: Callable[[list[tuple[str, str]]], int],
        route: Callable[[list[Item]], Any],
        *,
        settle: float = SETTLE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._parts = parts
        self._logs = logs
        self._exclusive = exclusive
        self._forget = forget
        self._route = route
        self._settle = settle
        self._now = now
        self.ops = parts.regulation_ops
        self._stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        while not stop.is_set():
            try:
                worked = await self.work_once()
            except Exception:
                logger.exception("a regulation failed to run; trying again shortly")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL)

    async def work_once(self) -> bool:
        """Run the next regulation with work due, if any; whether there was one."""
        regulation = await asyncio.to_thread(self.ops.claim, HOLD)
        if regulation is None:
            return False
        retry_at: datetime | None = None
        try:
            retry_at = await self.process(regulation)
        finally:
            await asyncio.to_thread(self.ops.regulations.release, regulation.id, retry_at)
        return True

    async def process(self, regulation: Regulation) -> datetime | None:
        """Take the regulation as far as it goes now; when to try again, if it is not ended."""
        regulation.overall_status = RUNNING
        stores = [t for t in regulation.targets if t.id.startswith(STORE_PREFIX)]
        if any(t.status not in ENDED for t in stores):
            wait = (regulation.created_at - self._now()).total_seconds() + self._settle
            # Stopping: the claim is released and the next start goes on from here.
            if wait > 0 and await self._stopping_within(wait):
                return None
            if not await self._processed_so_far():
                return None
            try:
                await self._exclusive(lambda: self._erase_inside(regulation))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                return None  # the runner stopped before it got to the work
        retry_at = await self._delete_in_destinations(regulation)
        regulation.overall_status = overall(regulation.targets)
        if regulation.overall_status in ENDED:
            regulation.finished_at = self._now()
            retry_at = None
        await asyncio.to_thread(self.ops.save, regulation)
        if regulation.overall_status in ENDED and regulation.deletes:
            # The rows it updated while running held the person's ids: push the final page
            # images into the file and empty the WAL, so the old ones are gone too.
            await asyncio.to_thread(_checkpoint, self._parts.state)
        return retry_at

    async def _stopping_within(self, seconds: float) -> bool:
        """Wait `seconds`; whether the process began stopping meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _processed_so_far(self, patience: float = 120.0) -> bool:
        """Wait until every partition is processed up to where it ends now: what the person
        sent before the suppression held is then stored (and erased next) by whichever worker
        owns the partition, not stored after the erasure. False if the process is stopping."""
        ends = {p: end for p, (end, _) in (await asyncio.to_thread(self._logs.state)).items()}
        deadline = asyncio.get_running_loop().time() + patience
        while asyncio.get_running_loop().time() < deadline:
            state = await asyncio.to_thread(self._logs.state)
            if all(state.get(p, (0, 0))[1] >= end for p, end in ends.items()):
                return True
            if await self._stopping_within(0.1):
                return False
        logger.warning("erasing before every partition was processed up to the suppression")
        return True

    # --- inside Seamline --------------------------------------------------------------------

    async def _erase_inside(self, regulation: Regulation) -> None:
        parts = self._parts
        workspace = regulation.workspace_id
        person = await asyncio.to_thread(
            resolve_person, parts.identity, workspace, regulation.subject()
        )
        person = merge_people(person, person_of(regulation))
        regulation.person = person_json(person)
        if regulation.suppresses:  # identifiers found since it was created
            await asyncio.to_thread(
                parts.suppressions.suppress,
                workspace,
                person_digests(person, parts.salt(workspace)),
                source_id=regulation.source_id or WORKSPACE_WIDE,
                regulation_id=regulation.id,
            )
        await asyncio.to_thread(self.ops.save, regulation)
        targets = {t.id: t for t in regulation.targets}
        erased: set[str] = set()  # messageIds: the state store erases their rows
        dedup_keys: list[tuple[str, str]] = []
        if regulation.source_id is None and STORE_PREFIX + "state-store" in targets:
            exits = await asyncio.to_thread(self._exit_audiences, person)
            if exits:
                await self._delivered(exits)
                erased.update(exits)

        async def log() -> dict[str, Any]:
            found = await erase_from_log(
                self._logs.erasable(),
                self._matcher(person, regulation.source_id),
                needles=needles_of(i.value for i in person.identifiers),
            )
            erased.update(message.message_id for message in found.messages)
            dedup_keys.extend(found.dedup_keys)
            return {"records": found.records_erased, "scanned": found.records_scanned}

        async def events() -> dict[str, Any]:
            rewrite = await asyncio.to_thread(self._erase_events, person, regulation.source_id)
            erased.update(rewrite.message_ids)
            return {"rows": rewrite.rows_dropped, "files": rewrite.files_rewritten}

        async def state() -> dict[str, Any]:
            done = await asyncio.to_thread(erase_state, parts.state, person, erased)
            return {"rows": sum(done.deleted.values()), "compacted": done.checkpointed}

        async def dedup() -> dict[str, Any]:
            return {"keys": await asyncio.to_thread(self._forget, dedup_keys)}

        for name, step in (
            ("log", log),
            ("event-store", events),
            ("state-store", state),
            ("dedup", dedup),
        ):
            target = targets.get(STORE_PREFIX + name)
            if target is None:
                continue
            await self._step(regulation, target, step)

    async def _step(
        self,
        regulation: Regulation,
        target: TargetStatus,
        step: Callable[[], Awaitable[dict[str, Any]]],
    ) -> None:
        target.attempts += 1
        target.status = RUNNING
        try:
            target.detail = await step()
        except Exception as error:
            logger.exception("erasing from %s failed", target.name)
            target.err_string = f"{type(error).__name__}: {error}"[:500]
            target.status = FAILED if target.attempts >= MAX_ATTEMPTS else RUNNING
        else:
            target.status = FINISHED
            target.err_string = ""
            target.finished_at = _iso(self._now())
        await asyncio.to_thread(self.ops.save, regulation)

    def _exit_audiences(self, person: Person) -> list[str]:
        """Send `Audience Exited` (and the identify with the key false) to destinations for
        every audience the person is in, straight to the outbox: through the log they would be
        stored again. Returns the messages' ids."""
        parts = self._parts
        workspace = person.workspace_id
        audiences = set(parts.rules.get(workspace).engage.audiences)
        if not audiences or not person.profile_ids:
            return []
        values = parts.engage_store.values(workspace, sorted(person.profile_ids))
        changes = [
            Change(workspace, profile_id, key, value, False, version + 1)
            for profile_id, found in sorted(values.items())
            for key, (value, version) in sorted(found.items())
            if key in audiences and value
        ]
        if not changes:
            return []
        envelopes = messages_for(
            changes, audiences, parts.engage_store.identifiers_of_people, self._now()
        )
        # One person: their deliveries are keyed (ordered) by one profile id.
        self._route([Item(0, envelope, changes[0].profile_id) for envelope in envelopes])
        return [e.message.message_id for e in envelopes if e.message.message_id]

    async def _delivered(self, message_ids: list[str], patience: float = 30.0) -> None:
        """Wait (a while) for the deliver role to send them; what is left is erased."""
        deadline = asyncio.get_running_loop().time() + patience
        while asyncio.get_running_loop().time() < deadline:
            if not await asyncio.to_thread(self._parts.outbox.holds, message_ids):
                return
            if await self._stopping_within(0.1):
                return
        logger.warning("audience exits of an erased person were not all delivered in time")

    def _erase_events(self, person: Person, source_id: str | None) -> Rewrite:
        store = self._parts.events
        if source_id is None:
            return erase_person(store, person)
        drop, tables = person_condition(person)
        source = "'" + source_id.replace("'", "''") + "'"
        return rewrite_where(
            store,
            lambda: candidate_files(store, person),
            f"({drop}) AND source_id = {source}",
            tables,
        )

    def _matcher(self, person: Person, source_id: str | None) -> Callable[[Envelope], bool]:
        workspace = person.workspace_id
        rules = self._parts.identity_rules_of(workspace)
        known = person.identifiers

        def matches(envelope: Envelope) -> bool:
            if envelope.workspace_id != workspace:
                return False
            if source_id is not None and envelope.source_id != source_id:
                return False
            return any(i in known for i in identifiers_of(envelope.message, rules))

        return matches

    # --- destinations -----------------------------------------------------------------------

    async def _delete_in_destinations(self, regulation: Regulation) -> datetime | None:
        parts = self._parts
        person = person_of(regulation)
        retry_at: datetime | None = None
        instances = parts.rules.get(regulation.workspace_id).erasable
        for target in regulation.targets:
            if target.id.startswith(STORE_PREFIX) or target.status in ENDED:
                continue
            instance = instances.get(target.id)
            if instance is None:
                target.status = FAILED
                target.err_string = "the destination was removed before the person was deleted"
                continue
            if person is None:
                target.status = FAILED
                target.err_string = "the person was not resolved"
                continue
            target.attempts += 1
            try:
                done = await delete_person(
                    instance,
                    person,
                    timeout=parts.settings.delivery_timeout,
                    allow_private=parts.settings.destinations_allow_private,
                )
            except RetryableError as error:
                target.err_string = error.message[:500]
                if target.attempts >= MAX_ATTEMPTS:
                    target.status = FAILED
                    continue
                target.status = RUNNING
                due = self._now() + timedelta(seconds=retry_in(error, target.attempts))
                retry_at = due if retry_at is None else min(retry_at, due)
            except DeliveryError as error:
                target.status = FAILED
                target.err_string = error.message[:500]
            else:
                target.status = FINISHED if done.status == FINISHED else NOT_SUPPORTED
                target.err_string = done.reason
                target.finished_at = _iso(self._now())
        return retry_at


def _checkpoint(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        if not checkpoint(raw):
            logger.warning("the state store's WAL could not be emptied: readers held it")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
