"""Staged publication's cost: the final step's time, and a no-op rerun against bake's, in one
run, this checkout against an earlier revision.

Not a test. On a throwaway local registry it builds engine_bench's 15-target fixture (5 images
x 3 arches, FROM scratch plus Debian's static busybox) with `xbuild all --push`, so every image
is staged, then published by its final step: its 3 per-arch tags moved to the staged digests,
then its list. summary.json times that step per image. Then img1's NONCE moves (img1 and
img1-kid build again) and the final step is timed again. Then, alternating which goes first:

  now     a no-op `xbuild all --push` of this checkout
  before  the same with `git archive --before` (staged publication's parent revision)
  bake    a no-op `docker buildx bake --push` of the same 15 targets plus 5
          `imagetools create`, in a namespace of its own (engine_bench's bake file)

Printed: the final step's seconds per image (cold and after the change), and per contender
the median wall time of the no-op and the run-by-run ratios now/bake and before/bake.

    .venv/bin/python bench/publish_bench.py [--runs 5] [--before REV] [--work 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # the repository: bench/

from bench.engine_bench import (  # noqa: E402
    bake_script,
    free_port,
    remove_images,
    stage_fixture,
    write_matrix,
)
from bench.noop_bench import all_up_to_date, timed  # noqa: E402
from bench.startup_bench import unpack  # noqa: E402
from xbuild.host.local_registry import LocalRegistry  # noqa: E402

REPO = BENCH.parent
NAMESPACE = "bench-publish"


def final_steps(runs: Path) -> dict[str, float]:
    """Image -> seconds of its final step, from the newest run folder's summary.json."""
    summary = json.loads(sorted(runs.glob("*/summary.json"))[-1].read_text())
    if summary["exit_code"] != 0:
        raise SystemExit(f"xbuild exited {summary['exit_code']}")
    return {entry["image"]: entry["seconds"] for entry in summary["lists"]
            if entry["status"] == "published"}


def show_steps(title: str, steps: dict[str, float]) -> None:
    shown = ", ".join(f"{image} {seconds:.2f}" for image, seconds in sorted(steps.items()))
    print(f"final step, {title}: {shown} (median {statistics.median(steps.values()):.2f} s)")


def xbuild_argv(matrix: Path, namespace: str, runs: Path) -> list[str]:
    return [sys.executable, "-S", "-m", "xbuild", "all", "--push", "-f", str(matrix),
            "--namespace", namespace, "--log-dir", str(runs)]


def bake(script: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", str(script)], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", default="1b3d654")  # the last commit before staging
    parser.add_argument("--work", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="xbuild-publish-bench-"))
    registry = LocalRegistry(port=free_port(), home=root / "registry")
    ours, theirs = (f"127.0.0.1:{registry.port}/{NAMESPACE}",
                    f"127.0.0.1:{registry.port}/{NAMESPACE}-bake")
    try:
        print(registry.start())
        stage_fixture(root, args.work)
        runs = root / "runs"
        matrix = write_matrix(root, "first", args.work)
        timed(xbuild_argv(matrix, ours, runs), REPO, root)
        show_steps("cold build (5 images)", final_steps(runs))
        matrix = write_matrix(root, "first", args.work, changed=True)
        timed(xbuild_argv(matrix, ours, runs), REPO, root)
        show_steps("after img1 changed (img1, img1-kid)", final_steps(runs))
        script = bake_script(root, theirs, "first", args.work, changed=True)
        bake(script)  # bake's cold run: what its no-op reruns find
        (root / "before").mkdir()
        codes = {"now": REPO, "before": unpack(args.before, root / "before")}
        return _compare(codes, [*xbuild_argv(matrix, ours, runs), "--json"], script, root,
                        args.runs)
    finally:
        remove_images(ours)
        remove_images(theirs)
        print(registry.stop())
        shutil.rmtree(root, ignore_errors=True)


def _compare(codes: dict[str, Path], argv: list[str], script: Path, root: Path,
             runs: int) -> int:
    wall: dict[str, list[float]] = {"now": [], "before": [], "bake": []}
    for run in range(runs):
        order = ("now", "before", "bake") if run % 2 == 0 else ("bake", "before", "now")
        for name in order:
            if name == "bake":
                wall[name].append(bake(script))
                continue
            seconds, _cpu, output, _said = timed(argv, codes[name], root)
            if problem := all_up_to_date(output):
                raise SystemExit(f"{name}, run {run}: {problem}")
            wall[name].append(seconds)
    for name, values in wall.items():
        print(f"no-op {name:7} median {statistics.median(values):.3f} s "
              f"(best {min(values):.3f} s)")
    for name in ("now", "before"):
        ratios = [mine / bake for mine, bake in zip(wall[name], wall["bake"], strict=True)]
        print(f"no-op {name}/bake, run by run: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
