"""Start-up of the everyday ``spoolq`` commands, beside a bare interpreter and the CLI's import.

    python benchmarks/bench_startup.py [--repeats 20] [--compare CHECKOUT]

Operators run ``spoolq put`` and ``spoolq stats`` in shell loops and cron
jobs, where start-up is the whole cost.  On a root of one spool holding one
message (on tmpfs, /dev/shm, when present), this times, best of R runs each,
wall clock and CPU (user + system of the child):

* ``python -c pass``: the interpreter alone, the baseline;
* ``python -c "import spoolq.cli"``: the CLI's group, no command loaded;
* every command module imported: what each command cost when the CLI loaded
  them all (prometheus_client, the STOMP client, the X.509 parser);
* ``python -m spoolq put``, ``ls``, ``show``, ``stats`` as a user runs them;

and prints each as a ratio to the bare interpreter and to the CLI's import.
``--compare`` times the same commands from another checkout of spoolq
(``PYTHONPATH=CHECKOUT``), e.g. a worktree of an older revision, beside this
one.  The runs of every case alternate, so that a busy minute weighs on all
of them alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_REPEATS = 200
RUN_LIMIT = 60  # seconds one run may take

#: The best wall-clock and the best CPU seconds of each (checkout, case).
Figures = dict[tuple[str, str], tuple[float, float]]

IMPORT_EVERY_COMMAND = (
    "import pkgutil, importlib, spoolq.cli\n"
    "for m in pkgutil.iter_modules(spoolq.cli.__path__): importlib.import_module('spoolq.cli.' + m.name)"
)


def environment(checkout: Path) -> dict[str, str]:
    """The environment of a run against ``checkout``: no root or configuration from the caller's."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPOOLQ_ROOT", "SPOOLQ_CONFIG")}
    env["PYTHONPATH"] = str(checkout)
    return env


def cases(root: str, element: str) -> list[tuple[str, list[str]]]:
    python = [sys.executable]
    spoolq = [sys.executable, "-m", "spoolq", "--root", root]
    return [
        ("python -c pass", [*python, "-c", "pass"]),
        ("import spoolq.cli", [*python, "-c", "import spoolq.cli"]),
        ("import every command", [*python, "-c", IMPORT_EVERY_COMMAND]),
        ("spoolq put", [*spoolq, "put", "pe", "hello"]),
        ("spoolq ls", [*spoolq, "ls", "pe"]),
        ("spoolq show", [*spoolq, "show", "pe", element]),
        ("spoolq stats", [*spoolq, "stats"]),
    ]


def _too_long(signum, frame) -> None:
    raise TimeoutError(f"a run took more than {RUN_LIMIT} s")


def timed(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``argv`` (which must succeed).

    The wait is a blocking one, bounded by an alarm: ``Popen.wait(timeout)``
    polls with sleeps of up to 50 ms, which would add up to 50 ms to every figure.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    previous = signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(RUN_LIMIT)
    try:
        returncode = child.wait()
    except TimeoutError:
        child.kill()
        child.wait()
        raise
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    wall = time.perf_counter() - start
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_root(directory: str, checkout: Path) -> str:
    """A root with spool ``pe`` holding one message; the message's element name."""
    env = environment(checkout)
    root = os.path.join(directory, "root")
    init = [sys.executable, "-m", "spoolq", "--root", root, "init", "pe"]
    subprocess.run(init, env=env, check=True, stdout=subprocess.DEVNULL)
    put = [sys.executable, "-m", "spoolq", "--root", root, "put", "pe", "hello"]
    return subprocess.run(put, env=env, check=True, capture_output=True, text=True).stdout.strip()


def measure(checkouts: dict[str, Path], repeats: int, directory: str) -> Figures:
    """Best wall clock and best CPU of each case from each checkout, the runs alternating."""
    root = os.path.join(directory, "root")
    element = make_root(directory, next(iter(checkouts.values())))
    best: Figures = {}
    for _ in range(repeats):
        for label, checkout in checkouts.items():
            for name, argv in cases(root, element):
                wall, cpu = timed(argv, environment(checkout), directory)
                old_wall, old_cpu = best.get((label, name), (float("inf"), float("inf")))
                best[(label, name)] = (min(wall, old_wall), min(cpu, old_cpu))
    return best


def report(best: Figures, checkouts: dict[str, Path], repeats: int) -> None:
    print(f"best of {repeats}: wall ms (CPU ms), and wall / `python -c pass`, wall / `import spoolq.cli`")
    for label in checkouts:
        print(f"\n{label} ({checkouts[label]})")
        bare = best[(label, "python -c pass")][0]
        cli = best[(label, "import spoolq.cli")][0]
        for name, _ in cases("ROOT", "ELEMENT"):
            wall, cpu = best[(label, name)]
            ratios = f"{wall / bare:5.2f} x   {wall / cli:5.2f} x"
            print(f"  {name:22} {wall * 1e3:7.1f} ({cpu * 1e3:6.1f})   {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help=f"runs of each case, at most {MAX_REPEATS}")
    parser.add_argument("--compare", type=Path, help="another spoolq checkout to time beside this one")
    args = parser.parse_args()
    repeats = max(1, min(args.repeats, MAX_REPEATS))
    checkouts = {"this checkout": REPO}
    if args.compare is not None:
        if not (args.compare / "spoolq" / "__init__.py").is_file():
            parser.error(f"--compare {args.compare}: no spoolq package there")
        checkouts["compared"] = args.compare.resolve()
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    directory = tempfile.mkdtemp(prefix="spoolq-bench-startup-", dir=base)
    try:
        report(measure(checkouts, repeats, directory), checkouts, repeats)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
