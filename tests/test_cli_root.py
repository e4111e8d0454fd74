"""A spool root must be recognisable as one; what in it is not spoolq's is pointed out."""

import os

from spoolq import Spool
from spoolq.cli import exit_codes


def test_a_root_that_does_not_exist_is_refused_with_a_hint(cli, tmp_path):
    result = cli("--root", str(tmp_path / "no-such-root"), "stats")
    assert result.returncode == exit_codes.CONFIG
    assert result.stdout == b""
    error = result.stderr.decode()
    assert error.count("\n") == 1 and "no such spool root" in error and "spoolq init" in error


def test_a_directory_that_is_not_a_root_is_refused_and_one_made_before_the_marker_is_not(cli, tmp_path):
    """As in the repository: the demo's parent directory holds an archive, a cache and the root.

    The root itself, made before roots were marked, is recognised by its spool in use.
    """
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "0e3d97137c12428b-0.tar").write_bytes(b"tar")
    (tmp_path / "cache" / "0000").mkdir(parents=True)
    (tmp_path / "root" / "pe" / "6b161848").mkdir(parents=True)
    for command in (["stats"], ["ls", "cache"], ["purge"], ["tail", "archive"]):
        result = cli("--root", str(tmp_path), *command)
        assert result.returncode == exit_codes.CONFIG, command
        assert "not a spool root" in result.stderr.decode()
    Spool(tmp_path / "root" / "pe", durable=False).put("x")
    result = cli("--root", str(tmp_path / "root"), "stats")
    assert result.returncode == 0 and not (tmp_path / "root" / ".spoolq-root").exists()
    assert result.stdout.decode().splitlines()[1].split()[:2] == ["pe", "1"]


def test_an_environment_root_is_checked_too(cli, tmp_path):
    from tests.conftest import cli_env

    result = cli("stats", env=cli_env(SPOOLQ_ROOT=str(tmp_path / "typo")))
    assert result.returncode == exit_codes.CONFIG


def test_init_marks_the_root_and_an_empty_one_is_then_accepted(cli, tmp_path):
    root = tmp_path / "root"
    assert cli("--root", str(root), "init", "pe").returncode == 0
    assert (root / ".spoolq-root").is_file()
    result = cli("--root", str(root), "stats")
    assert result.returncode == 0 and result.stdout.decode().splitlines()[1].split()[0] == "pe"


def test_a_watcher_starting_on_a_new_root_marks_it(tmp_path):
    from spoolq.spool import SpoolRoot

    SpoolRoot(tmp_path / "new").spool("pe")
    assert (tmp_path / "new" / ".spoolq-root").is_file()


def test_stats_ends_without_a_blank_line_when_no_shipper_runs(cli, tmp_path):
    assert cli("--root", str(tmp_path), "init", "pe").returncode == 0
    output = cli("--root", str(tmp_path), "stats").stdout.decode()
    assert output.endswith("\n") and not output.endswith("\n\n")


def test_stats_and_purge_say_what_in_the_root_is_not_spoolq_s(cli, tmp_path):
    assert cli("--root", str(tmp_path), "init", "pe").returncode == 0
    assert cli("--root", str(tmp_path), "stats").stderr == b"", "a clean root: no note"
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "not a spool").mkdir()
    for command in ("stats", "purge"):
        result = cli("--root", str(tmp_path), command)
        assert result.returncode == 0
        note = result.stderr.decode()
        assert "2 entries that are not spools" in note
        assert "notes.txt" in note and "not a spool/" in note
    assert (tmp_path / "notes.txt").read_text() == "mine", "left alone"
    assert os.path.isdir(tmp_path / "not a spool")


def test_a_bad_spool_name_is_a_bad_command_line_with_no_init_hint(cli, tmp_path):
    assert cli("--root", str(tmp_path), "init", "pe").returncode == 0
    for command in (["put", "a/b", "body"], ["ls", "a/b"], ["init", "a/b"]):
        result = cli("--root", str(tmp_path), *command)
        assert result.returncode == exit_codes.USAGE, command
        assert "not a valid spool name" in result.stderr.decode()
        assert "spoolq init" not in result.stderr.decode()
