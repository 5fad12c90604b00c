"""Benchmarks of Seamline, run as scripts: `.venv/bin/python benchmarks/ingest.py`."""
