"""Closing an instance's delivery releases what its actions keep (a warehouse's connections):
left to the garbage collector they would close at a random moment, in someone else's code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from seamline.destinations.catalog.postgres_warehouse.loader import Loader
from seamline.destinations.delivery import InstanceDelivery, RetryPolicy


class Kept:
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_close_releases_the_client_and_what_the_actions_kept() -> None:
    client = httpx.Client()
    delivery = InstanceDelivery(
        "default",
        outbox=Any,  # type: ignore[arg-type]  # not touched by close
        policy=RetryPolicy(),
        timeout=1.0,
        clock=lambda: datetime.now(UTC),
        client=client,
    )
    kept = Kept()
    delivery._state.update({"kept": kept, "plain": 3})
    delivery.close()
    assert kept.closed == 1
    assert client.is_closed
    assert delivery._state == {}


def test_a_warehouse_loader_closes_its_connections() -> None:
    loader = Loader("postgresql://nobody@127.0.0.1:1/none", "web")
    closed: list[bool] = []
    loader.connections.close = lambda: closed.append(True)  # type: ignore[method-assign]
    loader.close()
    assert closed == [True]
