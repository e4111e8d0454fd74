"""Progress is redrawn with \\r on a terminal only; pipes and logs get whole lines, never half of one."""

import io
import os
import pty

from spoolq.cli.progress import ProgressLines


def test_the_demo_into_a_pipe_writes_whole_lines_without_carriage_returns(cli, tmp_path):
    result = cli("demo", "--root", str(tmp_path / "demo"), "--files", "20", timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "\r" not in out and out.endswith("\n")
    assert "archived 20/20 files" in out.splitlines()


def test_off_a_terminal_only_the_last_update_of_a_line_is_written():
    stream = io.StringIO()
    progress = ProgressLines(stream)
    for done in range(1, 4):
        progress.say(f"\rarchived {done}/3 files")
    progress.say("\n")
    progress.say("\rarchived 1/9 files")  # and then the command fails
    progress.close()
    assert stream.getvalue() == "archived 3/3 files\narchived 1/9 files\n"


def test_on_a_terminal_updates_redraw_one_line_and_a_failure_still_ends_it():
    leader, follower = pty.openpty()
    try:
        with open(follower, "w", closefd=False) as terminal:
            progress = ProgressLines(terminal)
            progress.say("\rarchived 10/20 files")
            progress.say("\rarchived 9/9")
            progress.close()
        screen = os.read(leader, 4096)
    finally:
        os.close(leader)
        os.close(follower)
    assert screen.startswith(b"\rarchived 10/20 files\rarchived 9/9") and screen.endswith(b"\r\n")
