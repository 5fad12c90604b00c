"""Webhook sources: source functions that turn any tool's webhooks into Segment messages."""
