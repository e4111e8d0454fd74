"""Reading Prometheus text in the tests with the client's own parser, never with string matching."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def sample_values(text: str) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, frozenset of label pairs): value}`` of a text in the exposition format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """One sample's value, ``None`` when the text has no such sample."""
    return sample_values(text).get((name, frozenset(labels.items())))


def file_sample(path: Path, name: str, **labels: str) -> float | None:
    """One sample of the textfile at ``path`` as last written; ``None`` when missing (or no file yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return sample_value(text, name, **labels)
