"""`xbuild all --push` on the fixture matrix, on one node against two, measured in one run.

Not a test. The fixture is engine_bench's: 5 images x 3 arches (amd64, arm32v7, arm64v8),
FROM scratch plus Debian's static busybox, one parent edge, a busybox shell loop of --work
iterations in each image. Two contenders publish the same 15 per-arch tags and 5 lists into a
throwaway local registry, each cold (both engines' build caches pruned, earlier images
removed, a fresh nonce):

  one node   every arch on the host's engine (xbuild's default)
  two nodes  amd64 on the host's engine; arm64v8 and arm32v7 on a second engine on this host,
             reached through its docker context (`--builder arm64v8=CTX --builder arm32v7=CTX`)

    .venv/bin/python bench/nodes_bench.py [--work 300000] [--runs 1] [--xbuild-jobs N]

The second engine is tests/support/second_engine.py's: its own data-root, exec-root, socket
and bridge, started for this run and stopped at its end. Both engines share this host's cores,
so two nodes here prove routing, not speed: the figure to expect is about 1.0, and a native
second node (an ARM box) is where the time goes down.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # the repository: bench/ and tests/support

from bench import engine_bench as fixture  # noqa: E402
from tests.support.second_engine import SecondEngine, problem, running_engine  # noqa: E402
from xbuild.host.local_registry import LocalRegistry  # noqa: E402

CONTENDERS = ("one node", "two nodes")
REMOTE_ARCHES = ("arm64v8", "arm32v7")


@dataclass(frozen=True, slots=True)
class Result:
    contender: str
    run: int
    measured: fixture.Measured
    problem: str
    routed: str  # which engine holds which per-arch images afterwards

    @property
    def ok(self) -> bool:
        return not self.problem


def go_cold(engine: SecondEngine, prefix: str) -> None:
    fixture.go_cold(prefix)
    engine.docker("buildx", "prune", "-af")
    listing = engine.docker("image", "ls", "--format", "{{.Repository}} {{.ID}}").stdout
    ids = sorted({line.split()[1] for line in listing.splitlines() if line.startswith(prefix)})
    if ids:
        engine.docker("image", "rm", "-f", *ids)


def arches_held(context: list[str], namespace: str) -> list[str]:
    """The arch suffixes of the per-arch tags an engine's image store holds under namespace."""
    listing = subprocess.run(["docker", *context, "image", "ls", "--format",
                              "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True,
                             check=True).stdout.split()
    return sorted({name.rsplit("-", 1)[-1] for name in listing
                   if name.startswith(f"{namespace}/") and name.rsplit(":", 1)[-1] != "latest"})


def routing(engine: SecondEngine, namespace: str) -> str:
    here = arches_held([], namespace)
    there = arches_held(["--context", engine.context], namespace)
    return f"host engine holds {here or 'none'}; second engine holds {there or 'none'}"


@dataclass(frozen=True, slots=True)
class Setup:
    engine: SecondEngine
    registry: LocalRegistry
    root: Path
    args: argparse.Namespace


def command(contender: str, engine: SecondEngine, matrix: Path, namespace: str, *, logs: Path,
            jobs: int | None) -> list[str]:
    argv = [*fixture.xbuild_command(), "all", "--push", "-f", str(matrix), "--namespace",
            namespace, "--log-dir", str(logs)]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    if contender == "two nodes":
        for arch_name in REMOTE_ARCHES:
            argv += ["--builder", f"{arch_name}={engine.context}"]
    return argv


def one(contender: str, run: int, setup: Setup) -> Result:
    engine, registry, root, args = setup.engine, setup.registry, setup.root, setup.args
    prefix = f"{registry.address}/nodes-"
    go_cold(engine, prefix)
    namespace = f"{prefix}{contender.replace(' ', '-')}-{run}"
    folder = root / f"run{run}-{contender.replace(' ', '-')}"
    folder.mkdir()
    matrix = fixture.write_matrix(root, f"{run}-{uuid.uuid4().hex[:12]}", args.work)
    measured = fixture.measure(command(contender, engine, matrix, namespace, logs=folder / "logs",
                                       jobs=args.xbuild_jobs), folder / "output.log",
                               timeout=args.timeout)
    failed = (f"exit code {measured.exit_code} (log: {folder / 'output.log'})"
              if measured.exit_code else fixture.verify(namespace))
    return Result(contender, run, measured, failed, routing(engine, namespace))


def report(results: list[Result]) -> str:
    wall = {c: fixture.median([r.measured.seconds for r in results if r.contender == c and r.ok])
            for c in CONTENDERS if any(r.contender == c and r.ok for r in results)}
    lines = [f"  {c:9} {wall[c]:7.1f} s (median of "
             f"{sum(r.contender == c and r.ok for r in results)})" for c in wall]
    if len(wall) == 2:
        lines.append(f"  two nodes / one node = {wall['two nodes'] / wall['one node']:.2f} "
                     "(both engines share this host's cores: routing, not speed)")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return fixture.checked(fixture.bench_parser(__doc__), argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if (why := problem()) is not None:
        print(f"nodes_bench: cannot start a second engine: {why}", file=sys.stderr)
        return 4
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    root = Path(tempfile.mkdtemp(prefix="xbuild-nodes-bench-"))
    registry = LocalRegistry(port=fixture.free_port(), home=root / "registry")
    results: list[Result] = []
    try:
        print(registry.start())
        fixture.stage_fixture(root, args.work)
        with running_engine(root / "engine2") as engine:
            for run in range(args.runs):
                order = CONTENDERS if run % 2 == 0 else CONTENDERS[::-1]
                for contender in order:
                    result = one(contender, run, Setup(engine, registry, root, args))
                    results.append(result)
                    status = "ok" if result.ok else f"FAILED: {result.problem}"
                    print(f"run {run + 1} {contender:9} {result.measured.seconds:7.1f} s  "
                          f"load {os.getloadavg()[0]:.1f}  {status}; {result.routed}",
                          flush=True)
            go_cold(engine, f"{registry.address}/nodes-")
        print()
        print(report(results))
    finally:
        print(registry.stop())
        shutil.rmtree(root, ignore_errors=True)
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
