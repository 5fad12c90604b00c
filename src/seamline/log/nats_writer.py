"""Appends to the JetStream log: one message per record, acknowledged, retried by message id.

Each message carries `Nats-Msg-Id`. The stream remembers the ids of its duplicate window and
answers a second publish of one with `duplicate: true` and the sequence of the first, storing
nothing. So a publish whose ack was lost (a timeout, a node killed, a leader being elected:
5-6 s measured after a SIGKILL of the stream leader) is simply sent again with the same id until
it is acknowledged or the deadline passes: nothing acknowledged is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence

from nats.aio.client import Client
from nats.js import JetStreamContext

from seamline.log.nats_client import TRANSIENT, NatsUnavailable

logger = logging.getLogger(__name__)

MAX_OFFSET = 1 << 40  # what `position()` leaves a record's offset
_ATTEMPT = 2.0  # one try waits this long for its ack before trying again
_FIRST_PAUSE, _LONGEST_PAUSE = 0.05, 1.0


def partition_for(key: str, partitions: int) -> int:
    """A stable spread of keys over partitions (CRC-32: the same in every process and release,
    unlike Python's salted `hash`)."""
    return zlib.crc32(key.encode()) % partitions


class NatsWriter:
    """Publishes records to any partition of the log; one per process is enough."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        *,
        subject_prefix: str,
        partitions: int,
        where: str,
        deadline: float = 15.0,
    ) -> None:
        self._where = where
        self._client = client
        self._js = js
        self._prefix = subject_prefix
        self.partitions = partitions
        self.deadline = deadline

    def partition_for(self, key: str) -> int:
        """The partition a key (a source id, an anonymous id …) always goes to."""
        return partition_for(key, self.partitions)

    async def append(self, payloads: Sequence[bytes], *, partition: int, msg_id: str) -> int:
        """Publish each payload as one record of `partition`, in order, and return the first
        one's offset once every one is acknowledged. `msg_id` names the append: publishing it
        again (a retry, here or by a caller) stores nothing new and returns the same offset.
        Raises `NatsUnavailable` when no ack came before the deadline. (Should only some of
        several payloads be acknowledged at first, the others are retried after them, so they
        may be stored after later ones.)"""
        if not payloads:
            raise ValueError("nothing to append")
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} not in 0..{self.partitions - 1}")
        subject = f"{self._prefix}.{partition}"
        ids = [msg_id] if len(payloads) == 1 else [f"{msg_id}:{i}" for i in range(len(payloads))]
        offsets: list[int | None] = [None] * len(payloads)
        give_up = time.monotonic() + self.deadline
        pause = _FIRST_PAUSE
        while True:
            left = give_up - time.monotonic()
            try:
                await self._publish(subject, payloads, ids, offsets, min(_ATTEMPT, max(left, 0.1)))
                break
            except TRANSIENT as exc:
                left = give_up - time.monotonic()
                if left <= 0:
                    raise NatsUnavailable(
                        f"NATS at {self._where} did not acknowledge "
                        f"{subject} (id {msg_id}) within {self.deadline:g} s: "
                        f"{type(exc).__name__} {exc}"
                    ) from exc
                logger.debug(  # per try: an election retries every append in flight
                    "append to %s (id %s) not acknowledged (%r); retrying", subject, msg_id, exc
                )
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, _LONGEST_PAUSE)
        first = offsets[0]
        assert first is not None
        if max(o or 0 for o in offsets) >= MAX_OFFSET:
            raise OverflowError("the stream's sequence passed 2**40, more than a log offset holds")
        return first

    async def _publish(
        self,
        subject: str,
        payloads: Sequence[bytes],
        ids: list[str],
        offsets: list[int | None],
        timeout: float,
    ) -> None:
        """Publish what has no offset yet and fill in the offsets of what is acknowledged."""
        missing = [i for i, offset in enumerate(offsets) if offset is None]
        if len(missing) == 1:
            [i] = missing
            ack = await self._js.publish(
                subject, payloads[i], timeout=timeout, headers={"Nats-Msg-Id": ids[i]}
            )
            offsets[i] = ack.seq  # for a duplicate: the first copy's sequence
            return
        # Several: sent back to back on the one connection, so the stream stores them in this
        # order; the acks are awaited together.
        pending = {
            i: await self._js.publish_async(subject, payloads[i], headers={"Nats-Msg-Id": ids[i]})
            for i in missing
        }
        done, late = await asyncio.wait(pending.values(), timeout=timeout)
        for future in late:
            future.cancel()
        failure: BaseException | None = None
        for i, future in pending.items():
            if future in done and future.exception() is None:
                offsets[i] = future.result().seq
            elif failure is None:
                failure = future.exception() if future in done else TimeoutError("no ack")
        if failure is not None:
            raise failure
