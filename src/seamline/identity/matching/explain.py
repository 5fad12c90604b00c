"""What made a pair a proposal: each field's level and Bayes factor, from Splink's output row."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def level_labels(splink_settings: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """Per comparison (its output column), the label of each comparison vector value.

    Splink numbers a comparison's levels from the top: the null level is -1, then the first
    non-null level gets the highest value and the last (else) level 0.
    """
    labels: dict[str, dict[int, str]] = {}
    for comparison in splink_settings["comparisons"]:
        levels = [
            level for level in comparison["comparison_levels"] if not level.get("is_null_level")
        ]
        by_value = {-1: "null"}
        for position, level in enumerate(levels):
            by_value[len(levels) - 1 - position] = str(level.get("label_for_charts", position))
        labels[comparison["output_column_name"]] = by_value
    return labels


def comparisons_of(
    row: Mapping[str, Any], labels: Mapping[str, Mapping[int, str]]
) -> list[dict[str, Any]]:
    """One `{field, left, right, level, bayes_factor}` per comparison of a predicted row.

    With term-frequency adjustment on, the factor includes it (a match on a rare name counts
    more than one on a common name), so the factors multiply to the pair's odds.
    """
    out = []
    for field, by_value in labels.items():
        gamma = int(row[f"gamma_{field}"])
        # Splink reports match weights, log2 of the Bayes factors.
        weight = float(row.get(f"mw_{field}") or 0.0) + float(row.get(f"mw_tf_adj_{field}") or 0.0)
        factor = 2.0**weight
        out.append(
            {
                "field": field,
                "left": row.get(f"{field}_l"),
                "right": row.get(f"{field}_r"),
                "level": by_value.get(gamma, str(gamma)),
                "bayes_factor": round(factor, 6) if math.isfinite(factor) else None,
            }
        )
    return out
