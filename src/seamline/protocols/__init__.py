"""Protocols: checks and transformations applied to events before the pipeline stores them."""
