"""Profiles: the traits and metadata of each resolved person."""
