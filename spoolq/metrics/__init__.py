"""Metrics: a registry of counters, gauges and summaries, rendered as Prometheus text files."""
