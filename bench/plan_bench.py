"""How long `xbuild plan` takes on a big matrix: load_matrix and make_plan, timed apart.

Not a test. Writes a matrix of --images images x 3 arches into a temporary folder, each image
with its context folder and a Dockerfile naming its parent. Parent edges form chains: every
--chain-th image is a root, each other one is FROM the image before it (so chains are
--chain deep). Every 7th image has per-arch build args.

    .venv/bin/python bench/plan_bench.py [--images 1000] [--runs 5] [--profile]

Prints the best of --runs for loading, planning and both, the peak memory of one load + plan
under tracemalloc (measured in a separate run: tracemalloc slows everything down), and how
much of the load is YAML parsing (pure Python vs libyaml). --profile adds cProfile listings
of both steps.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.plan import Plan, make_plan

T = TypeVar("T")
NAMESPACE, TAG = "bench", "latest"
ARCHES = ["amd64", "arm32v7", "arm64v8"]
GOAL_SECONDS = 1.0


def image_name(index: int) -> str:
    return f"img-{index:05d}"


def write_bench_matrix(root: Path, images: int, chain: int) -> Path:
    doc: dict[str, Any] = {"namespace": NAMESPACE, "tag": TAG, "architectures": ARCHES,
                           "images": {}}
    for index in range(images):
        name = image_name(index)
        entry: dict[str, Any] = {"context": f"images/{name}"}
        parent = None if index % chain == 0 else image_name(index - 1)
        if parent:
            entry["from"] = parent
        if index % 7 == 0:
            entry["args"] = {"VERSION": f"1.{index}", "FLAVOUR": "full"}
            entry["arch_args"] = {"arm32v7": {"FLAVOUR": "slim"}}
        doc["images"][name] = entry
        context = root / "images" / name
        context.mkdir(parents=True)
        base = f"{NAMESPACE}/{parent}:{TAG}" if parent else "debian:bookworm-slim"
        (context / "Dockerfile").write_text(f"FROM {base}\nARG VERSION\nRUN echo $VERSION\n",
                                            encoding="utf-8")
    path = root / "matrix.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The shortest wall time of `runs` calls of `work`, and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def peak_bytes(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def profile(work: Callable[[], object], title: str, lines: int = 15) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(work)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"\n--- profile: {title} (by cumulative time) ---")
    print(out.getvalue().strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=10, help="every Nth image is a root")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile load and plan")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xbuild-bench-") as folder:
        path = write_bench_matrix(Path(folder), options.images, options.chain)
        load, matrix = best_of(options.runs, lambda: load_matrix(path))
        plan_time, plan = best_of(options.runs, lambda: make_plan(matrix))
        total, _ = best_of(options.runs, lambda: make_plan(load_matrix(path)))
        peak = peak_bytes(lambda: make_plan(load_matrix(path)))
        check(matrix, plan, options.images, options.chain)
        print(f"{options.images} images x {len(ARCHES)} arches: {len(plan.targets)} targets in "
              f"{len(plan.levels())} levels, {len(plan.manifests)} manifest lists "
              f"(best of {options.runs})")
        print(f"load {load:.3f} s, plan {plan_time:.3f} s, total {total:.3f} s "
              f"(goal: well under {GOAL_SECONDS:.0f} s), peak {peak / 2**20:.1f} MiB")
        text = path.read_text(encoding="utf-8")
        slow, _ = best_of(options.runs, lambda: yaml.safe_load(text))
        line = f"YAML alone: pure-Python safe_load {slow:.3f} s"
        if yaml.__with_libyaml__:
            fast, _ = best_of(options.runs, lambda: yaml.load(text, Loader=yaml.CSafeLoader))
            line += f", libyaml's CSafeLoader (what xbuild uses) {fast:.3f} s"
        print(line)
        if options.profile:
            profile(lambda: load_matrix(path), "load_matrix")
            profile(lambda: make_plan(matrix), "make_plan")


def check(matrix: Matrix, plan: Plan, images: int, chain: int) -> None:
    """The figures mean nothing if the plan is wrong."""
    assert len(matrix.images) == images
    assert len(plan.targets) == images * len(ARCHES)
    assert len(plan.levels()) == min(chain, images)
    assert len(plan.manifests) == images


if __name__ == "__main__":
    main()
