"""Daemons sweep the spools they write to: a killed writer's temporaries go at the next start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spoolq.config import ComponentConfig
from spoolq.spool import Spool, SpoolRoot
from spoolq.spool.batch import BATCH_PREFIX
from spoolq.testbed.shipping import root_of, running, write_node_config
from tests.waiting import wait_until

# Writes a .tmp of a small batch and a staging directory of a large one with one element
# in it, through the real writer, then dies at once (as kill -9 mid-batch would leave them).
DIE_MID_BATCH = """
import os, sys
from spoolq import Spool
spool = Spool(sys.argv[1])
spool._writer._write_temporary(b"half a batch", sync=False)
staging = spool._writer._batches._make_staging()
open(os.path.join(staging, "00000001000000"), "wb").write(b"never published")
os._exit(9)
"""


def leave_debris_of_a_dead_writer(path: str) -> None:
    died = subprocess.run([sys.executable, "-c", DIE_MID_BATCH, path], check=False)
    assert died.returncode == 9
    assert debris(path)


def debris(path: str) -> list[str]:
    """The temporaries in the spool at ``path``: ``.tmp`` files and ``.batch-*`` directories."""
    found = [e for e in os.listdir(path) if e.startswith(BATCH_PREFIX)]
    for directory in Spool(path).directories():
        found += [e for e in os.listdir(f"{path}/{directory}") if e.endswith(".tmp")]
    return found


def test_a_component_sweeps_its_reply_spool_of_a_dead_writers_temporaries(root: SpoolRoot, serving):
    reply = root.spool("pe_reply")
    leave_debris_of_a_dead_writer(reply.path)
    _, live = reply._writer._write_temporary(b"a live writer's", sync=False)  # this process: alive
    serving(ComponentConfig(name="pe", spool="pe", handler="echo"), root, poll_interval=0.05)
    wait_until(lambda: debris(reply.path) == [os.path.basename(live)], 10, "the dead writer's debris gone")
    assert os.path.exists(live)


@pytest.mark.timeout(120)
def test_a_receiver_sweeps_its_target_spool_of_a_dead_writers_temporaries(broker, tmp_path: Path):
    config = write_node_config(tmp_path / "n", "n1", broker)
    incoming = root_of(config).spool("incoming")
    leave_debris_of_a_dead_writer(incoming.path)
    with running(config, "in"):
        wait_until(lambda: debris(incoming.path) == [], 10, "the dead writer's debris gone")


@pytest.mark.timeout(120)
def test_a_restarted_receiver_sweeps_a_spool_its_predecessor_wrote_to_before_any_message_arrives(
    broker, tmp_path: Path
):
    # A killed receiver's batch for "md" (named by a `to: md@n1` header) left debris there; the
    # restarted receiver gets no message for md, and must still not leave it behind.
    config = write_node_config(tmp_path / "n", "n1", broker)
    md = root_of(config).spool("md")
    leave_debris_of_a_dead_writer(md.path)
    with running(config, "in"):
        wait_until(lambda: debris(md.path) == [], 10, "the dead writer's debris in md gone")


def test_a_component_at_start_sweeps_a_spool_its_predecessor_routed_output_to(root: SpoolRoot, serving):
    # A killed predecessor was writing a message a `to: audit` header named; nothing for
    # audit arrives after the restart, and the debris must go all the same.
    audit = root.spool("audit")
    leave_debris_of_a_dead_writer(audit.path)
    serving(ComponentConfig(name="pe", spool="pe", handler="echo"), root, poll_interval=0.05)
    wait_until(lambda: debris(audit.path) == [], 10, "the dead writer's debris in audit gone")
