"""Every id a log line names for a parked message works in show --parked, replay --id, discard --id."""

import re
import signal

from watch_helpers import Watcher

from spoolq import Spool
from spoolq.cli import exit_codes
from spoolq.spool import SpoolRoot, parking
from tests.waiting import wait_until


def _parked_by_a_watcher(root_dir, tmp_path) -> tuple[str, str]:
    """A watcher parks a malformed element; return its log line's element id and parked id."""
    original = Spool(root_dir / "pe", durable=False).put(b'{"header": ')
    watcher = Watcher(root_dir, "pe", "--handler", "noop", log=tmp_path / "watch.log")
    try:
        wait_until(lambda: "parked" in watcher.stderr(), what="the malformed element parked")
        watcher.signal(signal.SIGTERM)
        watcher.wait()
    finally:
        watcher.close()
    line = next(line for line in watcher.stderr().splitlines() if "parked" in line)
    logged = re.search(r"/pe/([0-9a-f]{8}/[0-9a-f]{14})", line).group(1)
    assert logged == original
    parked_as = re.search(r"parked as ([0-9a-f]{8}/[0-9a-f]{14})", line).group(1)
    return logged, parked_as


def test_the_ids_of_a_parking_log_line_work_in_show_replay_and_discard(cli, root_dir, tmp_path):
    logged, parked_as = _parked_by_a_watcher(root_dir, tmp_path)
    (listed,) = [p.name for p in parking.iter_parked(SpoolRoot(root_dir), "pe")]
    assert parked_as == listed, "the log names the parked id that `ls --parked` lists"
    for ident in (logged, parked_as):
        shown = cli("--root", str(root_dir), "show", "--parked", "pe", ident)
        assert shown.returncode == 0, shown.stderr
        assert b"parked-reason" in shown.stdout
        dry = cli("--root", str(root_dir), "replay", "-n", "--id", ident, "pe")
        assert dry.returncode == 0 and "would replay 1 message(s)" in dry.stdout.decode(), dry.stderr
    gone = cli("--root", str(root_dir), "discard", "--id", logged, "pe")
    assert gone.returncode == 0 and "discarded 1" in gone.stdout.decode()
    missing = cli("--root", str(root_dir), "show", "--parked", "pe", logged)
    assert missing.returncode == exit_codes.NOT_FOUND
