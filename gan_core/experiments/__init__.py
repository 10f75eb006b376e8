"""Experiments that measure what the published data is worth downstream."""
