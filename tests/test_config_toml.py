"""The TOML configuration: what it accepts, and an error naming file and key for everything else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spoolq.config import ComponentConfig, RetryPolicy, find_config, load_config
from spoolq.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spoolq.toml"
    path.write_text(text)
    return str(path)


def test_full_component_is_read_with_every_key(tmp_path):
    path = write(
        tmp_path,
        """
        root = "spools"
        metrics_dir = "metrics"
        metrics_interval = 0.5
        [components.pe]
        handler = "pkg.mod:Archive"
        spool = "pe_in"
        workers = 3
        reply_spool = "answers"
        dropbox = "drop"
        poll = true
        max_size = 1000
        lock_timeout = 30
        tick = 2.5
        enable = false
        [components.pe.options]
        command = ["cat"]
        [components.pe.types]
        ping = "pkg.mod:on_ping"
        [components.pe.retry]
        max_attempts = 2
        backoff = 0.5
        backoff_factor = 3
        max_delay = 10
        """,
    )
    config = load_config(path)
    assert config.root == str(tmp_path / "spools")
    assert config.metrics_dir == str(tmp_path / "metrics")
    assert config.metrics_interval == 0.5
    assert config.components == (
        ComponentConfig(
            name="pe",
            spool="pe_in",
            handler="pkg.mod:Archive",
            options={"command": ["cat"]},
            types={"ping": "pkg.mod:on_ping"},
            workers=3,
            retry=RetryPolicy(max_attempts=2, backoff=0.5, backoff_factor=3.0, max_delay=10.0),
            reply_spool="answers",
            dropbox=str(tmp_path / "drop"),
            poll=True,
            max_size=1000,
            lock_timeout=30.0,
            tick=2.5,
            enable=False,
        ),
    )
    assert config.enabled_components() == ()


def test_defaults_spool_is_component_name(tmp_path):
    config = load_config(write(tmp_path, '[components.pe]\nhandler = "noop"\n'))
    component = config.component("pe")
    assert component == ComponentConfig(name="pe", spool="pe", handler="noop")
    assert config.enabled_components() == (component,)
    assert config.metrics_dir is None
    assert component.tick is None  # no ticks unless asked for


def test_shipper_tables_are_kept_raw(tmp_path):
    path = write(
        tmp_path,
        """
        node = "node1"
        [security]
        cert = "hostcert.pem"
        [brokers.central]
        host = "127.0.0.1"
        [destinations.archive]
        queue = "/queue/a"
        [shippers.out]
        spool = "outgoing"
        """,
    )
    config = load_config(path)
    assert config.brokers == {"central": {"host": "127.0.0.1"}}
    assert config.destinations == {"archive": {"queue": "/queue/a"}}
    assert config.shippers == {"out": {"spool": "outgoing"}}
    assert config.node == "node1"
    assert config.security == {"cert": "hostcert.pem"}


def test_annotated_example_loads():
    config = load_config(str(REPO / "spoolq.example.toml"))
    assert [c.name for c in config.components] == ["pe", "notify"]


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("root = 3", "root", "must be a non-empty string"),
        ('root = ""', "root", "must be a non-empty string"),
        ('durable = "yes"', "durable", "must be true or false"),
        ("granularity = 0", "granularity", "must be >= 1"),
        ("granularity = 1.5", "granularity", "must be a whole number"),
        ("metrics_dir = 1", "metrics_dir", "must be a non-empty string"),
        ("metrics_interval = 0", "metrics_interval", "must be >= 0.1"),
        ("node = 1", "node", "must be a non-empty string"),
        ("security = 1", "security", "must be a table"),
        ("[queues.x]", "queues", "unknown key"),
        ("components = 3", "components", "must be a table"),
        ("components.pe = 3", "components.pe", "must be a table"),
        ("brokers.central = 1", "brokers.central", "must be a table"),
        ("[components.pe]\nspool = 'x'", "components.pe.handler", "is required"),
        ("[components.pe]\nhandler = ''", "components.pe.handler", "must be a non-empty string"),
        ("[components.pe]\nhandler = 'a'\nworker = 2", "components.pe.worker", "unknown key"),
        ("[components.pe]\nhandler = 'a'\nworkers = 0", "components.pe.workers", "must be >= 1"),
        ("[components.pe]\nhandler = 'a'\nworkers = '2'", "components.pe.workers", "whole number"),
        ("[components.pe]\nhandler = 'a'\nworkers = true", "components.pe.workers", "whole number"),
        ("[components.pe]\nhandler = 'a'\nspool = 'a/b'", "components.pe.spool", "not a valid spool"),
        ("[components.pe]\nhandler = 'a'\nspool = 'parked'", "components.pe.spool", "not a valid spool"),
        ("[components.pe]\nhandler = 'a'\nreply_spool = '..'", "components.pe.reply_spool", "not a valid"),
        ("[components.'a b']\nhandler = 'a'", "components.a b", "not a valid spool name"),
        ("[components.pe]\nhandler = 'a'\noptions = 1", "components.pe.options", "must be a table"),
        ("[components.pe]\nhandler = 'a'\ntypes = 1", "components.pe.types", "must be a table"),
        ("[components.pe]\nhandler = 'a'\ntypes.ping = 1", "components.pe.types.ping", "non-empty string"),
        ("[components.pe]\nhandler = 'a'\ndropbox = 1", "components.pe.dropbox", "non-empty string"),
        ("[components.pe]\nhandler = 'a'\npoll = 1", "components.pe.poll", "true or false"),
        ("[components.pe]\nhandler = 'a'\nmax_size = 0", "components.pe.max_size", "must be >= 1"),
        ("[components.pe]\nhandler = 'a'\nlock_timeout = 'x'", "components.pe.lock_timeout", "a number"),
        ("[components.pe]\nhandler = 'a'\nlock_timeout = 0", "components.pe.lock_timeout", ">= 1"),
        ("[components.pe]\nhandler = 'a'\ntick = 0", "components.pe.tick", "must be > 0 seconds"),
        ("[components.pe]\nhandler = 'a'\ntick = -1.5", "components.pe.tick", "must be > 0 seconds"),
        ("[components.pe]\nhandler = 'a'\ntick = '1s'", "components.pe.tick", "must be a number"),
        ("[components.pe]\nhandler = 'a'\ntick = true", "components.pe.tick", "must be a number"),
        ("[components.pe]\nhandler = 'a'\nenable = 'no'", "components.pe.enable", "true or false"),
        ("[components.pe]\nhandler = 'a'\nretry = 5", "components.pe.retry", "must be a table"),
        ("[components.pe]\nhandler = 'a'\nretry.tries = 5", "components.pe.retry.tries", "unknown key"),
        ("[components.pe]\nhandler='a'\nretry.max_attempts=0", "components.pe.retry.max_attempts", ">= 1"),
        ("[components.pe]\nhandler='a'\nretry.backoff=-1", "components.pe.retry.backoff", ">= 0"),
        ("[components.pe]\nhandler='a'\nretry.backoff_factor=0", "components.pe.retry.backoff_factor", ">"),
        ("[components.pe]\nhandler='a'\nretry.max_delay='x'", "components.pe.retry.max_delay", "a number"),
    ],
)
def test_invalid_value_names_file_key_and_problem(tmp_path, text, where, what):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert what in message


def test_not_toml_names_the_file(tmp_path):
    path = write(tmp_path, "root = [")
    with pytest.raises(ConfigError, match=f"^{path}: not valid TOML"):
        load_config(path)


def test_unreadable_file_names_the_file(tmp_path):
    path = str(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="configuration file not found"):
        find_config(path)
    with pytest.raises(ConfigError, match=f"^{path}: cannot read"):
        load_config(path)


def test_no_file_is_the_empty_configuration():
    config = load_config(None)
    assert config.root is None and config.components == ()


def test_cli_reports_an_invalid_file_in_one_line(tmp_path, cli):
    path = write(tmp_path, "[components.pe]\nhandler = 'a'\nworkers = 0\n")
    result = cli("-c", path, "--root", str(tmp_path), "init", "x")
    assert result.returncode == 4
    assert result.stderr.decode().strip() == (
        f"spoolq: error: {path}: components.pe.workers: must be >= 1, not 0"
    )


def test_a_shipping_configuration_is_also_a_valid_spoolq_configuration(tmp_path, monkeypatch):
    """Both readers accept one file: the shipper tables pass through load_config untouched."""
    from types import SimpleNamespace

    from spoolq.shippers.config import load_shipping
    from spoolq.testbed.shipping import write_node_config

    monkeypatch.setenv("SPOOLQ_TEST_PASSCODE", "guest")
    path = str(write_node_config(tmp_path, "node1", SimpleNamespace(stomp_port=61613)))
    config = load_config(path)
    assert config.node == "node1" and set(config.shippers) == {"out", "in"}
    assert set(load_shipping(path).shippers) == {"out", "in"}


def test_bytes_read_before_are_loaded_as_the_file_they_came_from(tmp_path):
    path = write(tmp_path, 'root = "spools"\n[components.pe]\nhandler = "noop"\n')
    text = Path(path).read_bytes()
    Path(path).write_text("[components.pe\n")  # edited since: not read again
    config = load_config(path, text)
    assert config.root == str(tmp_path / "spools")  # relative to the file, as always
    assert config.source == text and [c.name for c in config.components] == ["pe"]
    with pytest.raises(ConfigError, match=r"spoolq\.toml: not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"spoolq\.toml: not valid TOML: not UTF-8"):
        load_config(path, b"root = '\xff'\n")


def test_handed_down_bytes_are_read_once_and_leave_no_trace(monkeypatch):
    from spoolq.config.source import CONFIG_FD_ENV, hand_down, take_handed_down

    text = b"x" * 200_000  # more than a pipe holds
    fd = hand_down(text)
    monkeypatch.setenv(CONFIG_FD_ENV, str(fd))
    assert take_handed_down() == text
    assert CONFIG_FD_ENV not in os.environ  # a handler's subprocess does not see it
    try:
        still_open = "spoolq-config" in os.readlink(f"/proc/self/fd/{fd}")
    except FileNotFoundError:
        still_open = False
    assert not still_open  # closed (its number may since name another file)
    assert take_handed_down() is None  # nothing handed down: read the file
