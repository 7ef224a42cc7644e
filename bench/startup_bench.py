"""How long `xbuild plan` takes to start and answer on the real matrix, against `python -c pass`,
and against the same command at an earlier revision (before lazy imports), in one run.

Not a test. Each contender runs --runs times in a fresh process; the best and the median wall
time are printed, with the ratio to `python -c pass` and whether python_on_whales was loaded.

    .venv/bin/python bench/startup_bench.py [--runs 15] [--before dd2746f]

--before REV: `git archive REV` is unpacked into a temporary folder and run with
PYTHONPATH pointing at it (its own code, this venv's libraries). Use "" to skip it. Every
contender runs with `python -S` and PYTHONPATH=<its code>:<this venv's site-packages>, so the
editable install's import hook cannot send the old revision to the new code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = ("import runpy, sys; sys.argv = ['xbuild', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('xbuild', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "sys.stderr.write('\\nPOW=%s\\n' % ('python_on_whales' in sys.modules))")


def timed(argv: Sequence[str], env: dict[str, str], runs: int) -> tuple[list[float], str]:
    seconds, loaded = [], "?"
    for _ in range(runs):
        start = time.perf_counter()
        # Not from the checkout: `-c` puts the current folder first on sys.path.
        done = subprocess.run(argv, cwd=tempfile.gettempdir(), env=env, capture_output=True,
                              text=True, check=False)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed: {done.stderr[-400:]}")
        loaded = next((ln[4:] for ln in done.stderr.splitlines() if ln.startswith("POW=")), "-")
    return seconds, loaded


def unpack(rev: str, into: Path) -> Path:
    archive = into / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(REPO), "archive", rev, "xbuild"], stdout=out,
                       check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "src", filter="data")
    return into / "src"


def code_env(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{code}:{sysconfig.get_paths()['purelib']}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", default="dd2746f")
    args = parser.parse_args()
    plan = ["plan", "-f", str(REPO / "matrix.yml")]
    python = [sys.executable, "-S"]
    env = code_env(REPO)
    contenders = {"python -S -c pass": ([*python, "-c", "pass"], env),
                  "xbuild --version": ([*python, "-c", PROBE, "--version"], env),
                  "xbuild plan (now)": ([*python, "-c", PROBE, *plan], env)}
    with tempfile.TemporaryDirectory(prefix="xbuild-bench-") as tmp:
        if args.before:
            contenders[f"xbuild plan ({args.before})"] = (
                [*python, "-c", PROBE, *plan], code_env(unpack(args.before, Path(tmp))))
        results = {name: timed(argv, e, args.runs) for name, (argv, e) in contenders.items()}
    floor = min(results["python -S -c pass"][0])
    print(f"{'contender':28} {'best s':>8} {'median s':>9} {'x pass':>7}  python_on_whales")
    for name, (seconds, loaded) in results.items():
        best = min(seconds)
        print(f"{name:28} {best:8.3f} {statistics.median(seconds):9.3f} "
              f"{best / floor:7.1f}  {loaded}")


if __name__ == "__main__":
    main()
