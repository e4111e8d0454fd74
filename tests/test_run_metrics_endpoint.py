"""``spoolq run`` serving /metrics: off by default, on loopback unless told, scraped as Prometheus does."""

from __future__ import annotations

import signal
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spoolq.config.toml_file import load_toml_config
from spoolq.errors import ConfigError
from tests.run_helpers import component_table, running
from tests.waiting import wait_until


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` of one scrape, read with the client's own parser."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ('"127.0.0.1:9464"', ("127.0.0.1", 9464)),
        ('"9464"', ("127.0.0.1", 9464)),
        ("9464", ("127.0.0.1", 9464)),
        ('"0.0.0.0:9100"', ("0.0.0.0", 9100)),
        ('"[::1]:9464"', ("::1", 9464)),
    ],
)
def test_metrics_listen_is_a_port_or_host_and_port_on_loopback_by_default(tmp_path, value, address):
    path = tmp_path / "spoolq.toml"
    path.write_text(f"metrics_listen = {value}\n")
    assert load_toml_config(str(path)).metrics_listen == address


def test_metrics_are_not_served_unless_asked(tmp_path):
    path = tmp_path / "spoolq.toml"
    path.write_text(component_table("pe"))
    assert load_toml_config(str(path)).metrics_listen is None


@pytest.mark.parametrize(
    "value", ['"localhost:http"', '"127.0.0.1:70000"', "true", '":9464"', '"a b:1"', "[1]"]
)
def test_a_bad_metrics_listen_is_refused_naming_the_key(tmp_path, value):
    path = tmp_path / "spoolq.toml"
    path.write_text(f"metrics_listen = {value}\n")
    with pytest.raises(ConfigError, match=r"metrics_listen: must be \"HOST:PORT\""):
        load_toml_config(str(path))


@pytest.mark.timeout(90)
def test_run_serves_every_figure_of_the_root_on_loopback_and_releases_the_port(tmp_path):
    config = tmp_path / "spoolq.toml"
    config.write_text(f'metrics_interval = 0.2\nmetrics_listen = "127.0.0.1:0"\n{component_table("pe")}')
    with running(tmp_path) as start:
        run = start(config=config)
        url = run.wait_for_log(r"serving metrics on (http://\S+/metrics)", timeout=30)[0].group(1)
        assert url.startswith("http://127.0.0.1:")
        run.ask("pe")
        handled = ("spoolq_messages_handled_total", (("component", "pe"),))
        wait_until(lambda: scrape(url).get(handled) == 1, what="the handled message in a scrape")
        figures = scrape(url)
        assert figures[("spoolq_component_up", (("component", "pe"), ("spool", "pe")))] == 1
        assert ("spoolq_spool_messages", (("spool", "pe_reply"), ("state", "ready"))) in figures
        assert ("spoolq_handle_seconds_bucket", (("component", "pe"), ("le", "+Inf"))) in figures
        run.signal(signal.SIGTERM)
        assert run.wait() == 0, run.log()
    with pytest.raises(urllib.error.URLError):
        scrape(url)


@pytest.mark.timeout(60)
def test_an_address_in_use_stops_run_with_one_line_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "spoolq.toml"
        config.write_text(f'metrics_listen = "127.0.0.1:{port}"\n{component_table("pe")}')
        with running(tmp_path) as start:
            run = start(config=config)
            assert run.wait(30) == 4
            assert f"metrics_listen: cannot serve /metrics on http://127.0.0.1:{port}/metrics" in run.log()
            assert "Traceback" not in run.log()
