"""Prometheus metrics: the platform's state published by every writer, and the exporter serving it."""
