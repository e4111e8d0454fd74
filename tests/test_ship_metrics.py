"""Shipper figures in Prometheus text: the file for node_exporter and ``spoolq stats --prom``."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from spoolq.message import Message
from spoolq.shippers.status import ShipperStatus
from spoolq.shippers.status_metrics import StatusMetrics, shipper_metrics_path
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until


def samples(text: str) -> dict[tuple[str, str], float]:
    """``{(metric name, shipper): value}`` of the shipper families in a Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "shipper" in sample.labels:
                found[(sample.name, sample.labels["shipper"])] = sample.value
    return found


def file_samples(config) -> dict[tuple[str, str], float]:
    """The shipper samples of a node's metrics files (ROOT/.metrics/shipper-NAME.prom)."""
    root = root_of(config).path
    text = ""
    for name in ("out", "in"):
        try:
            with open(shipper_metrics_path(root, None, name)) as handle:
                text += handle.read()
        except FileNotFoundError:
            pass
    return samples(text)


def test_each_kind_reports_its_own_families_with_shipper_and_kind_labels(tmp_path):
    status = ShipperStatus("in", "receive", state="connected", done=7, duplicates=3, backlog=2)
    path = tmp_path / "metrics" / "shipper-in.prom"
    assert StatusMetrics(status, str(path)).write()
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    assert "spoolq_shipper_in_flight" not in families and "spoolq_shipper_sent" not in families
    [received] = families["spoolq_shipper_received"].samples
    assert received.labels == {"shipper": "in", "kind": "receive"} and received.value == 7
    assert families["spoolq_shipper_received"].type == "counter"
    assert families["spoolq_shipper_duplicates"].samples[0].value == 3
    assert families["spoolq_shipper_connected"].samples[0].value == 1
    assert families["spoolq_shipper_backlog"].type == "gauge"


def test_a_metrics_file_that_cannot_be_written_is_reported_not_raised(tmp_path):
    (tmp_path / "blocked").write_text("a file where the directory should be")
    writer = StatusMetrics(ShipperStatus("out", "ship"), str(tmp_path / "blocked" / "shipper-out.prom"))
    assert writer.write() is False


def test_shipper_figures_follow_a_real_transfer_in_the_file_and_in_stats(broker, tmp_path, cli):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    outgoing = root_of(sender).spool("outgoing")
    outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(20))
    outgoing.put(Message.new("x", "no node to send it to"))  # parked by the shipper
    with (
        running(sender, "out", metrics_interval=0.1) as (shipper,),
        running(receiver, "in", metrics_interval=0.1),
    ):
        wait_until(
            lambda: file_samples(sender).get(("spoolq_shipper_sent_total", "out")) == 20, what="sent 20"
        )
        wait_until(
            lambda: file_samples(receiver).get(("spoolq_shipper_received_total", "in")) == 20, what="20"
        )
        seen = file_samples(sender)
        assert seen[("spoolq_shipper_connected", "out")] == 1
        assert seen[("spoolq_shipper_parked_total", "out")] == 1
        assert seen[("spoolq_shipper_reconnects_total", "out")] == 0
        wait_until(lambda: file_samples(sender)[("spoolq_shipper_backlog", "out")] == 0, what="no backlog")
        assert file_samples(sender)[("spoolq_shipper_in_flight", "out")] == 0

        broker.close_all_connections("metrics test")
        wait_until(
            lambda: (
                file_samples(sender).get(("spoolq_shipper_reconnects_total", "out")) == 1
                and file_samples(sender)[("spoolq_shipper_connected", "out")] == 1
            ),
            what="a reconnect counted",
        )
        shown = cli("--config", str(sender), "stats", "--prom")
        assert shown.returncode == 0, shown.stderr
        in_stats = samples(shown.stdout.decode())
        assert in_stats[("spoolq_shipper_sent_total", "out")] == 20
        assert in_stats[("spoolq_shipper_connected", "out")] == 1
    after = file_samples(sender)
    assert after[("spoolq_shipper_connected", "out")] == 0  # stopped
    assert after[("spoolq_shipper_sent_total", "out")] == 20
    assert shipper.status.state == "stopped"
