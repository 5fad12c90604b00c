"""Splink settings built from a normalised `matching:` block: comparisons and blocking rules.

The only place that turns configuration into Splink objects. Field names were checked by
`config.normalise_matching` (lower-case identifiers, never user SQL) and every level comes from
Splink's level library, so Splink and sqlglot write all the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

# Jaro-Winkler bands: 0.92 keeps one-letter typos of ordinary names, 0.8 nicknames and
# transpositions; below that two names are different evidence, not a weaker match.
NAME_BANDS = (0.92, 0.8)
EMAIL_BAND = 0.88


def comparison(spec: Mapping[str, Any]) -> ComparisonCreator:
    """The Splink comparison for one `{field, kind, term_frequency}` entry, levels labelled."""
    import splink.comparison_level_library as cll
    from splink import ColumnExpression
    from splink.comparison_library import CustomComparison

    field: str = spec["field"]
    kind: str = spec["kind"]
    levels: list[ComparisonLevelCreator | dict[str, Any]] = [
        cll.NullLevel(field).configure(label_for_charts="null")
    ]
    exact = cll.ExactMatchLevel(field, term_frequency_adjustments=spec["term_frequency"])
    levels.append(exact.configure(label_for_charts="exact"))
    if kind == "name":
        levels += [
            _label(cll.JaroWinklerLevel(field, band), f"jaro_winkler>={band}")
            for band in NAME_BANDS
        ]
    elif kind == "email":
        mailbox = ColumnExpression(field).regex_extract("^[^@]+")
        levels += [
            _label(cll.ExactMatchLevel(mailbox), "same_mailbox"),
            _label(cll.JaroWinklerLevel(field, EMAIL_BAND), f"jaro_winkler>={EMAIL_BAND}"),
            _label(
                cll.JaroWinklerLevel(mailbox, EMAIL_BAND), f"mailbox_jaro_winkler>={EMAIL_BAND}"
            ),
        ]
    elif kind == "phone":
        # The same number written with and without its country code agrees on the last 8.
        tail = ColumnExpression(field).regex_extract("[0-9]{8}$")
        levels += [
            _label(cll.ExactMatchLevel(tail), "same_last_8_digits"),
            _label(cll.DamerauLevenshteinLevel(field, 1), "damerau_levenshtein<=1"),
        ]
    elif kind == "date":
        levels += [
            _label(cll.DamerauLevenshteinLevel(field, 1), "damerau_levenshtein<=1"),
            _label(cll.LevenshteinLevel(field, 2), "levenshtein<=2"),
        ]
    elif kind == "postcode":
        levels.append(_label(cll.DamerauLevenshteinLevel(field, 1), "damerau_levenshtein<=1"))
    elif kind in ("address", "text"):
        levels += [
            _label(cll.DamerauLevenshteinLevel(field, 1), "damerau_levenshtein<=1"),
            _label(cll.DamerauLevenshteinLevel(field, 2), "damerau_levenshtein<=2"),
            _label(cll.JaroWinklerLevel(field, 0.9), "jaro_winkler>=0.9"),
        ]
    levels.append(cll.ElseLevel().configure(label_for_charts="different"))
    return CustomComparison(levels, output_column_name=field, comparison_description=kind)


def _label(level: ComparisonLevelCreator, label: str) -> ComparisonLevelCreator:
    return level.configure(label_for_charts=label)


def blocking_rule(rule: Mapping[str, Any]) -> BlockingRuleCreator:
    """`{equal: [a, {field: b, prefix: 4}]}` as Splink's `block_on(a, substr(b, 1, 4))`."""
    from splink import ColumnExpression, block_on

    parts: list[str | ColumnExpression] = []
    for part in rule["equal"]:
        if isinstance(part, str):
            parts.append(part)
        else:
            parts.append(ColumnExpression(part["field"]).substr(1, part["prefix"]))
    return block_on(*parts)


def settings(config: Mapping[str, Any], *, link_only: bool) -> Any:
    """A Splink `SettingsCreator` for the config: its comparisons and prediction rules."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only",
        comparisons=[comparison(spec) for spec in config["comparisons"]],
        blocking_rules_to_generate_predictions=[
            blocking_rule(rule) for rule in config["blocking_rules"]
        ],
        unique_id_column_name="unique_id",
        retain_matching_columns=True,
        # bf_<field> per comparison: the explanation each proposal carries.
        retain_intermediate_calculation_columns=True,
    )
