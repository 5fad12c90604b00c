"""HTTP routes other than ingest: health, metrics, SDK settings (and later the management API)."""
