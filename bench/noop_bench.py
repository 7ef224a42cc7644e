"""How long a no-op rerun of the 15-target bench fixture takes, now and at an earlier
revision, in one run: `xbuild all --push` when every per-arch tag and list is up to date.

Not a test. It builds engine_bench's fixture (5 images x 3 arches, FROM scratch plus Debian's
static busybox) once, pushes it to a throwaway local registry, then runs the same no-op
command --runs times per contender, alternating which goes first, each in a fresh process:

  now     this checkout's xbuild
  before  `git archive REV` of --before, unpacked into a temporary folder

Both run as `python -S -c <startup_bench's PROBE> all --push ...` with PYTHONPATH=<its
code>:<this venv's site-packages>, so the editable install cannot send the old revision to the
new code; the probe also says whether python-on-whales was loaded. Identities do not depend on
the revision here (the same inputs, the same `xbuild identity v1`), so both find everything
up to date; a run that builds or publishes anything, or exits non-zero, is an error. Nothing
is pruned: the engine's build cache and other people's images are left alone; the fixture's
own images are removed at the end.

Printed per contender: best and median wall time, the median CPU time of its process tree
(user + system, which a busy machine inflates less than wall time), and the median of the
run-by-run ratio now/before (each pair ran back to back).

    .venv/bin/python bench/noop_bench.py [--runs 10] [--before c1e9041] [--work 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # the repository: bench/

from bench.engine_bench import (  # noqa: E402
    free_port,
    remove_images,
    stage_fixture,
    write_matrix,
)
from bench.startup_bench import PROBE, unpack  # noqa: E402
from xbuild.host.local_registry import LocalRegistry  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench-noop"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], code: Path, cwd: Path) -> tuple[float, float, str, str]:
    """Wall seconds, the CPU seconds of the process and what it waited for, its stdout and
    its stderr."""
    env = {**os.environ, "PYTHONPATH": f"{code}:{sysconfig.get_paths()['purelib']}"}
    cpu, start = _cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False, timeout=3600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, _cpu() - cpu, done.stdout, done.stderr


def all_up_to_date(report: str) -> str:
    """Why a --json report is not a no-op ("" when it exited 0 and every target and list is
    up to date)."""
    data = json.loads(report)
    if data["exit_code"] != 0:
        return f"exit code {data['exit_code']}"
    moved = [t["tag"] for t in data["targets"] if t["status"] != "up to date"]
    moved += [x["ref"] for x in data["lists"] if x["status"] != "up to date"]
    return f"not a no-op: {', '.join(moved)}" if moved else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--before", default="c1e9041")
    parser.add_argument("--work", type=int, default=1000,
                        help="busybox loop iterations per image (the cold build only)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="xbuild-noop-bench-"))
    registry = LocalRegistry(port=free_port(), home=root / "registry")
    namespace = f"127.0.0.1:{registry.port}/{NAMESPACE}"
    try:
        print(registry.start())
        stage_fixture(root, args.work)
        matrix = write_matrix(root, "noop", args.work)
        (root / "before").mkdir()
        codes = {"now": REPO, "before": unpack(args.before, root / "before")}
        command = ["all", "--push", "-f", str(matrix), "--namespace", namespace,
                   "--log-dir", str(root / "runs")]
        seconds, *_ = timed([sys.executable, "-S", "-m", "xbuild", *command], REPO, root)
        print(f"cold build of the fixture: {seconds:.1f} s")
        # PROBE runs xbuild, then says on stderr whether python-on-whales was loaded
        return _compare(codes, [sys.executable, "-S", "-c", PROBE, *command, "--json"], root,
                        args.runs)
    finally:
        remove_images(namespace)
        print(registry.stop())
        shutil.rmtree(root, ignore_errors=True)


def _compare(codes: dict[str, Path], argv: list[str], root: Path, runs: int) -> int:
    wall: dict[str, list[float]] = {name: [] for name in codes}
    cpu: dict[str, list[float]] = {name: [] for name in codes}
    loaded: dict[str, set[str]] = {name: set() for name in codes}
    for run in range(runs):
        for name in (("now", "before") if run % 2 == 0 else ("before", "now")):
            seconds, cpu_seconds, output, said = timed(argv, codes[name], root)
            if problem := all_up_to_date(output):
                raise SystemExit(f"{name}, run {run}: {problem}")
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            loaded[name] |= {ln[4:] for ln in said.splitlines() if ln.startswith("POW=")}
    print(f"{'contender':10} {'best s':>7} {'median s':>9} {'median CPU s':>13}  "
          "python_on_whales")
    for name in codes:
        print(f"{name:10} {min(wall[name]):7.3f} {statistics.median(wall[name]):9.3f} "
              f"{statistics.median(cpu[name]):13.3f}  {'/'.join(sorted(loaded[name]))}")
    ratios = [n / b for n, b in zip(wall["now"], wall["before"], strict=True)]
    print(f"now/before, run by run: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {runs} pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
