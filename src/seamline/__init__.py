"""Seamline: an open-source customer data platform that speaks Segment's wire format."""

__version__ = "0.1.0"
