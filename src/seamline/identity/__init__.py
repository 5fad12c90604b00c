"""Identity resolution: which person (profile) each message belongs to."""
