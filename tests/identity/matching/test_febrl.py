"""The engine on a sample of FEBRL4 (300 people, each in both lists), unsupervised.

The full data sets are benchmarks/identity_quality.py's (FEBRL4 F1 1.0 at 0.5 there). Here three
blocking rules keep the test short; on this sample they give F1 0.995 at the auto-merge
threshold (one pair missed, one wrong), and the floor leaves room for nothing else.
"""

from __future__ import annotations

from seamline.identity.matching.engine import score, train
from tests.identity.matching.febrl import CONFIG, load, quality, true_pairs

SAMPLE = 300


def test_a_febrl4_sample_links_unsupervised() -> None:
    first = load("dataset4a", "a")[:SAMPLE]
    people = {record["person"] for record in first}
    records = first + [r for r in load("dataset4b", "b") if r["person"] in people]
    config = {**CONFIG, "blocking_rules": CONFIG["blocking_rules"][:3]}
    model = train(records, config, link_only=True)
    found = [(p.left, p.right, p.probability) for p in score(model, records)]
    truth = true_pairs(records, link_only=True)
    assert len(truth) == SAMPLE
    measured = quality(found, truth, model.config["threshold"])
    assert measured.precision >= 0.99
    assert measured.recall >= 0.99
    assert measured.f1 >= 0.99
