"""How `spoolq watch` builds its component: from options, or from a configured component."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from spoolq import Spool
from spoolq.cli import exit_codes
from spoolq.cli.settings import Settings
from spoolq.cli.watch import _component_config
from spoolq.config import ComponentConfig, Config
from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from spoolq.watcher.dropbox import Dropbox, is_candidate
from tests.waiting import wait_until

NO_OVERRIDES = dict.fromkeys(
    (
        "handler",
        "workers",
        "poll",
        "dropbox",
        "reply_spool",
        "max_size",
        "lock_timeout",
        "max_attempts",
        "name",
    )
)


def settings_with(*components: ComponentConfig) -> Settings:
    settings = Settings(root_option="unused", config_option=None)
    settings._config = Config(path="spoolq.toml", root=None, components=components)
    return settings


def test_options_alone_build_a_component_named_after_the_spool():
    overrides = {**NO_OVERRIDES, "handler": "echo", "workers": 3, "max_attempts": 2}
    config = _component_config(settings_with(), "pe", None, overrides)
    assert (config.name, config.spool, config.handler, config.workers) == ("pe", "pe", "echo", 3)
    assert config.retry.max_attempts == 2


def test_configured_component_is_taken_and_options_override_it():
    configured = ComponentConfig(name="pe", spool="pe_in", handler="noop", options={"a": "1"}, workers=2)
    overrides = {**NO_OVERRIDES, "workers": 4, "options": ("b=2",)}
    config = _component_config(settings_with(configured), None, "pe", overrides)
    assert config == dataclasses.replace(configured, workers=4, options={"a": "1", "b": "2"})


def test_unknown_component_names_the_file_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"spoolq.toml: no component named 'x' \(known: \['pe'\]\)"):
        _component_config(settings_with(ComponentConfig("pe", "pe", "echo")), None, "x", NO_OVERRIDES)


def test_cli_component_missing_is_one_line(cli, root_dir):
    result = cli("--root", str(root_dir), "watch", "--component", "nope")
    assert result.returncode == 4
    assert result.stderr.decode().strip().startswith("spoolq: error: no configuration file: no component")


def test_polling_drop_box_adopts_a_file_once_it_has_settled(root_dir: Path, tmp_path: Path):
    assert not is_candidate(".hidden") and not is_candidate("x.part") and is_candidate("report.json")
    spool = SpoolRoot(root_dir).spool("pe")
    box = tmp_path / "box"
    dropbox = Dropbox(str(box), spool, poll=True, poll_interval=0.05)
    thread = threading.Thread(target=dropbox.run)
    thread.start()
    try:
        (box / "report.json").write_bytes(b"payload")
        (box / "partial.part").write_bytes(b"not yet")
        wait_until(lambda: spool.count() == 1, what="the settled file adopted")
        assert spool.get(next(spool.names())).body == "payload"
        assert sorted(p.name for p in box.iterdir()) == ["partial.part"]
    finally:
        dropbox.stop()
        thread.join(5)


def test_component_with_a_drop_box_is_ready_only_after_the_box_is_watched(root_dir, tmp_path, serving):
    root = SpoolRoot(root_dir)
    box = tmp_path / "box"
    box.mkdir()
    (box / "early").write_bytes(Message.new("PING", "there before start").body_bytes)
    serving(ComponentConfig(name="pe", spool="pe", handler="echo", dropbox=str(box)), root)
    wait_until(lambda: root.spool("pe_reply").count() == 1, what="the early file handled")


def test_watch_without_a_handler_is_refused_and_consumes_nothing(cli, root_dir):
    spool = Spool(root_dir / "pe", durable=False)
    name = spool.put("keep me")
    result = cli("--root", str(root_dir), "watch", "pe", timeout=20)
    assert result.returncode == exit_codes.USAGE
    assert "--handler" in result.stderr.decode()
    assert spool.exists(name) and not (root_dir / "pe_reply").exists()


def test_watch_help_says_the_handler_consumes_messages(cli):
    assert "consumes the messages" in " ".join(cli("watch", "--help").stdout.decode().split())
