"""Probabilistic matching: proposes links between profiles from fuzzy evidence.

`config` (the `matching:` block) imports nothing heavy; the engine (`train`, `score`) runs on
Splink's DuckDB backend, imported only when a model is trained or used.
"""
