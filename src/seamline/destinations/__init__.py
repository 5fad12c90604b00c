"""Destinations: declarative definitions (settings, actions with fields), FQL subscriptions,
mappings, and the catalog under `destinations/catalog/<slug>.py`."""
