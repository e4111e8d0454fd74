"""Metrics: prometheus_client registries, their textfiles, and a whole root's figures as one exposition."""
