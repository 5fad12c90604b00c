"""Collect: the Tracking API, write-key auth and the browser SDK's settings endpoint."""
