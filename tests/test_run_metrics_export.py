"""``spoolq stats --prom``: spool figures and component metric files as valid Prometheus text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spoolq.message import Message
from spoolq.metrics.component import QUEUE_DEPTH, ComponentMetrics
from spoolq.metrics.export import prometheus_stats
from spoolq.metrics.file import MetricsFile, metrics_path
from spoolq.spool import SpoolRoot
from spoolq.spool.parking import park
from tests.prometheus_text import file_sample
from tests.run_helpers import component_table, running
from tests.waiting import wait_until

SAMPLE_LINE = re.compile(
    r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? '
    r"(-?[0-9.]+(e[+-]?[0-9]+)?|[+-]Inf|NaN)( -?[0-9]+)?"
)
COMPONENT_FILE = """\
# HELP spoolq_handled_total Messages handled.
# TYPE spoolq_handled_total counter
spoolq_handled_total{component="%(name)s"} 3
# HELP spoolq_handle_seconds Handler latency.
# TYPE spoolq_handle_seconds summary
spoolq_handle_seconds_sum{component="%(name)s"} 0.25
spoolq_handle_seconds_count{component="%(name)s"} 3
"""


def check_line_format(text: str) -> None:
    """Every line is HELP, TYPE, a comment, or a sample; each family is typed once."""
    typed: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in typed, f"family typed twice: {name}"
            assert line.split()[3] in ("counter", "gauge", "summary", "histogram", "untyped")
            typed.append(name)
        elif line.startswith("#"):
            assert line.startswith(("# HELP ", "# skipped ")), line
        else:
            assert SAMPLE_LINE.fullmatch(line), f"not a sample line: {line!r}"


@pytest.fixture
def root(root_dir) -> SpoolRoot:
    root = SpoolRoot(root_dir)
    root.spool("pe").put_many([Message.new("ping", "a"), Message.new("ping", "b")])
    root.spool("pe").claim(next(root.spool("pe").names()))
    root.spool("archive")
    park(root, "pe", b"not an envelope", "malformed")
    metrics = root_dir / ".metrics"
    metrics.mkdir()
    for name in ("pe", "archive"):
        (metrics / f"{name}.prom").write_text(COMPONENT_FILE % {"name": name})
    return root


def test_output_parses_as_prometheus_text(root):
    text = prometheus_stats(root)
    check_line_format(text)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }
    assert samples[("spoolq_spool_messages", (("spool", "pe"), ("state", "ready")))] == 1
    assert samples[("spoolq_spool_messages", (("spool", "pe"), ("state", "locked")))] == 1
    assert samples[("spoolq_spool_messages", (("spool", "archive"), ("state", "ready")))] == 0
    assert samples[("spoolq_spool_oldest_age_seconds", (("spool", "pe"),))] >= 0
    assert samples[("spoolq_spool_bytes", (("spool", "pe"),))] > 0
    assert samples[("spoolq_parked_messages", (("spool", "pe"),))] == 1
    assert samples[("spoolq_handled_total", (("component", "archive"),))] == 3
    assert samples[("spoolq_handled_total", (("component", "pe"),))] == 3
    assert families["spoolq_handle_seconds"].type == "summary"


def test_families_reported_by_several_components_are_merged(root):
    text = prometheus_stats(root)
    assert text.count("# TYPE spoolq_handled_total counter") == 1
    assert text.count("spoolq_handled_total{") == 2


def test_broken_metric_file_is_skipped_with_a_comment(root, root_dir):
    (root_dir / ".metrics" / "broken.prom").write_text("this is not { prometheus\n")
    text = prometheus_stats(root)
    assert "# skipped broken.prom: not Prometheus text format" in text
    check_line_format(text)
    list(text_string_to_metric_families(text))


def test_metrics_dir_from_configuration(root, tmp_path):
    elsewhere = tmp_path / "textfiles"
    elsewhere.mkdir()
    (elsewhere / "x.prom").write_text("spoolq_up 1\n")
    text = prometheus_stats(root, str(elsewhere))
    assert "spoolq_up 1" in text and "spoolq_handled_total" not in text


def test_a_family_typed_otherwise_in_another_file_is_skipped_not_merged(root, root_dir):
    odd = "# TYPE spoolq_handled_total gauge\nspoolq_handled_total 9\n"
    (root_dir / ".metrics" / "odd.prom").write_text(odd)
    text = prometheus_stats(root)
    assert "# skipped spoolq_handled_total as a gauge: already read as a counter" in text
    handled = {f.name: f for f in text_string_to_metric_families(text)}["spoolq_handled"]
    assert sorted(s.labels.get("component", "") for s in handled.samples) == ["archive", "pe"]


def test_named_spools_only(root):
    text = prometheus_stats(root, names=["archive"])
    assert 'spool="archive"' in text and 'spool="pe"' not in text


@pytest.mark.timeout(60)
def test_components_write_metric_files_that_stats_prom_reports(tmp_path, cli):
    config = tmp_path / "spoolq.toml"
    config.write_text(f"metrics_interval = 0.2\n{component_table('pe')}{component_table('archive')}")
    with running(tmp_path) as start:
        run = start(config=config)
        run.ask("pe")
        run.ask("pe")
        run.ask("archive")
        # A reply is visible a moment before its request is acknowledged: a file written in
        # between shows a depth of 1 until the next write.
        files = run.root_path / ".metrics"
        handled = "spoolq_messages_handled_total"
        wait_until(lambda: file_sample(files / "pe.prom", handled, component="pe") == 2)
        for name in ("pe", "archive"):
            depth = {"component": name, "spool": name}
            wait_until(
                lambda name=name, depth=depth: file_sample(files / f"{name}.prom", QUEUE_DEPTH, **depth) == 0
            )
        result = cli("-c", str(config), "--root", str(run.root_path), "stats", "--prom")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    check_line_format(text)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    handled = {s.labels["component"]: s.value for s in families["spoolq_messages_handled"].samples}
    assert handled["pe"] == 2
    depth = {s.labels["spool"]: s.value for s in families["spoolq_queue_depth"].samples}
    assert depth == {"pe": 0, "archive": 0}
    assert families["spoolq_handle_seconds"].type == "histogram"
    assert {s.labels["spool"] for s in families["spoolq_spool_messages"].samples} >= {"pe", "pe_reply"}


def test_metrics_file_is_replaced_atomically_and_failures_are_not_fatal(root, root_dir, caplog):
    metrics = ComponentMetrics("pe", "pe")
    metrics.handled.inc()
    path = metrics_path(str(root_dir), None, "pe")
    writer = MetricsFile(metrics, path, root.spool("pe"), interval=0.05)
    writer.start()
    writer.stop()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(Path(path).read_text())
        for s in f.samples
    }
    assert samples[("spoolq_queue_depth", (("component", "pe"), ("spool", "pe")))] == 2
    assert samples[("spoolq_messages_handled_total", (("component", "pe"),))] == 1
    assert [n for n in os.listdir(os.path.dirname(path)) if not n.endswith(".prom")] == []
    blocked = MetricsFile(metrics, str(root_dir / "pe" / "not-a-dir" / "x.prom"), root.spool("pe"))
    (root_dir / "pe" / "not-a-dir").write_text("a file")
    assert not blocked.write()
    assert "cannot write metrics" in caplog.text


def test_a_temporary_left_by_a_killed_writer_is_removed_when_the_next_one_starts(root, root_dir):
    path = metrics_path(str(root_dir), None, "pe")
    dead_writers = Path(f"{path}.999999999.140000")  # no such process
    live_writers = Path(f"{path}.{os.getpid()}.140000")  # this process: perhaps still writing
    for temporary in (dead_writers, live_writers):
        temporary.write_text("half a fi")
    writer = MetricsFile(ComponentMetrics("pe", "pe"), path, root.spool("pe"), interval=60)
    writer.start()
    writer.stop()
    assert not dead_writers.exists()
    assert live_writers.exists()
