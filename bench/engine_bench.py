"""How fast xbuild builds and rebuilds a matrix, against `buildx bake` and a plain loop.

Not a test. Writes a fixture matrix into a temporary folder: 5 images x 3 arches (amd64,
arm32v7, arm64v8), FROM scratch plus Debian's static busybox, with one parent edge
(img1 -> img1-kid) and 3 independent images. Every image burns CPU in a busybox shell loop of
--work iterations (about 1 s natively at the default; under QEMU about 10x that). Then, on a
throwaway local registry, it times three contenders that each publish the same 15 per-arch tags
and 5 manifest lists:

  xbuild  `xbuild all --push -f <matrix> --namespace <registry>/bench-xbuild` (default --jobs)
  bake    `docker buildx bake --push` over one target per image x arch (the child linked to its
          parent with a `target:` context), then `docker buildx imagetools create` per image
  loop    a bash script: `docker buildx build --push` per target in dependency order (the child
          with `--build-context <parent name>=docker-image://<pushed parent tag>`), then
          `imagetools create` per image

    .venv/bin/python bench/engine_bench.py [--work 300000] [--runs 1] [--keep] [--xbuild-jobs N]

Three scenarios per contender and run, in its own namespace:

  cold    from a pruned build cache
  no-op   the same command again, nothing changed; the registry's digests of every per-arch
          tag and list are read before and after ("digests kept")
  change  the parent img1's NONCE arg moves: img1 and img1-kid must build again, nothing else

and one yardstick, "alone": xbuild building only img1 and img1-kid, cold, run right after
xbuild's change. xbuild and bake run side by side, each first in every other run. The goals:
xbuild cold <= 0.9 x bake cold; xbuild no-op <= 0.3 x bake no-op with digests kept; xbuild
change <= alone.

Each contender starts cold: the engine's build cache is pruned (`docker buildx prune -af`) and
the images of earlier contenders are removed, and every run builds with a fresh nonce build
arg. A contender counts only if it exits 0 and all 5 lists exist in the registry with the 3
platforms, and each arch of the child sits on the layers of the parent this contender built.

Memory is the orchestrating process tree's: the builds themselves run inside dockerd, so what
differs is the client side. Two figures: the max RSS of the largest single process (ru_maxrss
from wait4, what `/usr/bin/time -v` prints) and the peak of the tree's summed RSS, sampled
every 0.1 s from /proc. `cpu %` is the whole machine's busy share during the contender, read
from /proc/stat, so other work on the same engine shows up in it; beside it, that busy time in
CPU seconds (the engine, QEMU and everything else), and the contender's own share of it: the
user and system time of its process tree (wait4's rusage: xbuild and its buildx clients, or
bake's), so what the engine spent is the difference. The report adds each contender's floor: its
busy CPU time over the machine's cores, the wall time no scheduling can beat. When both
contenders keep the cores busy, their ratio cannot go below the ratio of their CPU times.

Before each measured command the script waits (at most 30 s) until the machine is quiet, so
what the engine still does after one contender (removing build containers, collecting
garbage) is not charged to the next.

The build cache prune is engine-wide: it also empties the cache of anyone else using this
engine (never in-use records), and their builds add noise to these figures.

bake and named contexts: the Dockerfile frontend looks a `FROM ns/img:latest` up as the named
context `ns/img` (`:latest` stripped). `docker buildx build --build-context` normalises its keys
that way; bake (buildx 0.13) does not, so a bake context keyed `ns/img:latest` is silently
ignored and the parent is resolved from the registry instead. The bake file here keys the link
`ns/img`, which works with the `docker` driver.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xbuild.core.platforms import Arch, Platform, arch_named
from xbuild.host.cmd import Shell
from xbuild.host.local_registry import LocalRegistry
from xbuild.host.paths import cache_dir
from xbuild.host.probe import busybox_binary

ARCH_NAMES = ("amd64", "arm32v7", "arm64v8")
# buildx's TARGETARCH + TARGETVARIANT for each arch: the name the Dockerfiles COPY.
BUSYBOX_SUFFIX = {"amd64": "amd64", "arm32v7": "armv7", "arm64v8": "arm64"}
MATRIX_NAMESPACE, TAG = "bench", "latest"
PARENT, CHILD = "img1", "img1-kid"
IMAGES = (PARENT, CHILD, "img2", "img3", "img4")
CONTENDERS = ("xbuild", "bake", "loop")
DEFAULT_WORK = 300_000  # busybox ash: ~1 s natively on the 2-core dev machine
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

_LOOP = 'i=0; while [ "$i" -lt "$WORK" ]; do i=$((i+1)); done'
# BENCH_IMAGE's default differs per image, so no two images share a cache key; NONCE differs
# per contender and run.
ROOT_DOCKERFILE = """\
FROM scratch
ARG BENCH_IMAGE={image}
ARG NONCE
ARG WORK={work}
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${{TARGETARCH}}${{TARGETVARIANT}} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN {loop}; echo "$BENCH_IMAGE $NONCE" > /bench-done
"""
CHILD_DOCKERFILE = """\
FROM {parent_name}
ARG BENCH_IMAGE={image}
ARG NONCE
ARG WORK={work}
RUN {loop}; echo "$BENCH_IMAGE $NONCE" > /bench-kid-done
"""


def arch(name: str) -> Arch:
    found = arch_named(name)
    assert found is not None, name
    return found


def parent_name() -> str:
    """The parent as the child's Dockerfile names it (and as matrix.yml publishes it)."""
    return f"{MATRIX_NAMESPACE}/{PARENT}:{TAG}"


def context_key() -> str:
    """The named-context key the Dockerfile frontend looks `FROM parent_name()` up under."""
    return parent_name().removesuffix(":latest")


# --- measuring a process tree ----------------------------------------------------------------
def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path("/proc", entry.name, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree_rss_kib(root: int) -> int:
    children, total, todo = _children_map(), 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        with contextlib.suppress(OSError, IndexError, ValueError):  # it may have exited
            total += int(Path("/proc", str(pid), "statm").read_text().split()[1]) * PAGE_KIB
    return total


@dataclass(slots=True)
class TreeSampler:
    root: int
    interval: float = 0.1
    peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    exit_code: int
    seconds: float
    max_rss_kib: int  # largest single process of the tree (ru_maxrss)
    tree_peak_kib: int  # summed RSS of the tree, sampled
    cpu_busy: float  # the machine's busy share, 0..1
    cpu_seconds: float  # the machine's busy CPU time (engine, QEMU, everything)
    client_cpu_seconds: float  # the contender's own process tree's CPU time (rusage)


def settle(quiet: float = 0.15, longest: float = 30.0) -> None:
    """Wait until the machine is quiet (under `quiet` busy over a second), at most `longest`
    seconds: what the engine still does after a contender exits (removing build containers,
    collecting garbage) would otherwise be charged to the next one."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        busy0, total0 = cpu_times()
        time.sleep(1.0)
        busy1, total1 = cpu_times()
        if (busy1 - busy0) / max(1, total1 - total0) < quiet:
            return


def measure(argv: Sequence[str], log: Path, *, timeout: float) -> Measured:
    """Run `argv` (its output to `log`), timing it and watching its process tree's memory.
    Waits for the machine to settle first."""
    settle()
    busy0, total0 = cpu_times()
    start = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    timer = threading.Timer(timeout, _kill_group, (process.pid,))
    timer.start()
    with TreeSampler(process.pid) as sampler:
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    busy1, total1 = cpu_times()
    return Measured(exit_code=process.returncode, seconds=seconds, max_rss_kib=usage.ru_maxrss,
                    tree_peak_kib=sampler.peak_kib,
                    cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
                    cpu_seconds=(busy1 - busy0) / CLOCK_TICKS,
                    client_cpu_seconds=usage.ru_utime + usage.ru_stime)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # the group of the contender this script started


# --- docker helpers (untimed) ----------------------------------------------------------------
def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {shlex.join(args)} failed: {done.stderr.strip()}")
    return done


def remove_images(prefix: str) -> int:
    """Remove every local image whose repository starts with `prefix`, tagged or not."""
    listing = docker("image", "ls", "--format", "{{.Repository}} {{.ID}}").stdout
    ids = sorted({line.split()[1] for line in listing.splitlines()
                  if line.startswith(prefix) and len(line.split()) == 2})
    if ids:
        docker("image", "rm", "-f", *ids, check=False)
    return len(ids)


def go_cold(prefix: str) -> None:
    remove_images(prefix)
    docker("buildx", "prune", "-af")


def raw_manifest(ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(docker("buildx", "imagetools", "inspect", "--raw",
                                             ref).stdout)
    return data


def verify(namespace: str) -> str:
    """'' when the 5 lists exist with the 3 platforms and the child sits on its parent."""
    wanted = [arch(name).platform for name in ARCH_NAMES]
    entries: dict[str, dict[Platform, str]] = {}
    for image in IMAGES:
        ref = f"{namespace}/{image}:{TAG}"
        try:
            listed = raw_manifest(ref)
        except RuntimeError as exc:
            return f"{ref}: {exc}"
        found: dict[Platform, str] = {}
        for entry in listed.get("manifests", ()):
            p = entry.get("platform") or {}
            if p.get("os") == "unknown":
                continue
            found[Platform(os=p.get("os", ""), architecture=p.get("architecture", ""),
                           variant=p.get("variant", ""))] = entry["digest"]
        missing = [str(w) for w in wanted if not any(w.same_as(f) for f in found)]
        if missing or len(found) != len(wanted):
            return f"{ref}: platforms {sorted(map(str, found))}, missing {missing}"
        entries[image] = {w: d for w in wanted for f, d in found.items() if w.same_as(f)}
    for wanted_platform in wanted:
        layers = {}
        for image in (PARENT, CHILD):
            digest = entries[image][wanted_platform]
            manifest = raw_manifest(f"{namespace}/{image}@{digest}")
            layers[image] = [layer["digest"] for layer in manifest.get("layers", ())]
        if layers[CHILD][: len(layers[PARENT])] != layers[PARENT]:
            return f"{CHILD} for {wanted_platform} is not built on this run's {PARENT}"
    return ""


# --- the fixture -----------------------------------------------------------------------------
def stage_fixture(root: Path, work: int) -> Path:
    """The image contexts under root/images; returns root."""
    binaries = {name: busybox_binary(arch(name), cache_dir(), Shell()) for name in ARCH_NAMES}
    for image in IMAGES:
        context = root / "images" / image
        context.mkdir(parents=True)
        if image == CHILD:
            text = CHILD_DOCKERFILE.format(parent_name=parent_name(), image=image, work=work,
                                           loop=_LOOP)
        else:
            text = ROOT_DOCKERFILE.format(image=image, work=work, loop=_LOOP)
            for name, binary in binaries.items():
                shutil.copy2(binary, context / f"busybox-{BUSYBOX_SUFFIX[name]}")
        (context / "Dockerfile").write_text(text, encoding="utf-8")
    return root


def build_args(nonce: str, work: int, image: str = "", changed: bool = False) -> dict[str, str]:
    """The one-image change: the parent's NONCE moves, so it and its child must build again."""
    moved = changed and image == PARENT
    return {"NONCE": f"{nonce}-changed" if moved else nonce, "WORK": str(work)}


def write_matrix(root: Path, nonce: str, work: int, changed: bool = False) -> Path:
    """matrix.yml (JSON is YAML) for xbuild, with this run's nonce."""
    images: dict[str, Any] = {}
    for image in IMAGES:
        entry: dict[str, Any] = {"context": f"images/{image}",
                                 "args": build_args(nonce, work, image, changed)}
        if image == CHILD:
            entry["from"] = PARENT
        images[image] = entry
    doc = {"namespace": MATRIX_NAMESPACE, "tag": TAG, "architectures": list(ARCH_NAMES),
           "images": images}
    path = root / "matrix.yml"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def target_name(image: str, arch_name: str) -> str:
    return f"{image}-{arch_name}"


def per_arch_ref(namespace: str, image: str, arch_name: str) -> str:
    return f"{namespace}/{image}:{TAG}-{arch_name}"


def list_commands(namespace: str) -> list[list[str]]:
    return [["docker", "buildx", "imagetools", "create", "-t", f"{namespace}/{image}:{TAG}",
             *(per_arch_ref(namespace, image, a) for a in ARCH_NAMES)] for image in IMAGES]


def write_bake(root: Path, namespace: str, nonce: str, work: int, changed: bool) -> Path:
    targets: dict[str, Any] = {}
    for image in IMAGES:
        for arch_name in ARCH_NAMES:
            target: dict[str, Any] = {
                "context": str(root / "images" / image),
                "dockerfile": "Dockerfile",
                "platforms": [str(arch(arch_name).platform)],
                "tags": [per_arch_ref(namespace, image, arch_name)],
                "args": build_args(nonce, work, image, changed),
            }
            if image == CHILD:
                target["contexts"] = {context_key(): "target:"
                                      + target_name(PARENT, arch_name)}
            targets[target_name(image, arch_name)] = target
    doc = {"group": {"default": {"targets": list(targets)}}, "target": targets}
    path = root / "docker-bake.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def write_script(path: Path, commands: Sequence[Sequence[str]]) -> Path:
    lines = ["#!/bin/bash", "set -euo pipefail", *(shlex.join(c) for c in commands)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bake_script(root: Path, namespace: str, nonce: str, work: int, changed: bool) -> Path:
    bake_file = write_bake(root, namespace, nonce, work, changed)
    commands = [["docker", "buildx", "bake", "--push", "--progress", "plain", "-f",
                 str(bake_file)], *list_commands(namespace)]
    return write_script(root / "bake.sh", commands)


def loop_script(root: Path, namespace: str, nonce: str, work: int, changed: bool) -> Path:
    commands: list[list[str]] = []
    for image in IMAGES:  # parents come first
        for arch_name in ARCH_NAMES:
            context = root / "images" / image
            command = ["docker", "buildx", "build", "--push", "--progress", "plain",
                       "--platform", str(arch(arch_name).platform),
                       "-t", per_arch_ref(namespace, image, arch_name)]
            for key, value in build_args(nonce, work, image, changed).items():
                command += ["--build-arg", f"{key}={value}"]
            if image == CHILD:
                parent = per_arch_ref(namespace, PARENT, arch_name)
                command += ["--build-context", f"{parent_name()}=docker-image://{parent}"]
            commands.append([*command, "-f", str(context / "Dockerfile"), str(context)])
    return write_script(root / "loop.sh", [*commands, *list_commands(namespace)])


def xbuild_command() -> list[str]:
    script = Path(sys.executable).parent / "xbuild"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "xbuild"]


# --- one contender ---------------------------------------------------------------------------
SCENARIOS = ("cold", "no-op", "change")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    contender: str
    scenario: str
    measured: Measured
    problem: str  # '' when it succeeded and verified
    log: Path
    run: int = 0
    note: str = ""
    digests_kept: bool | None = None  # no-op: did every per-arch and list digest stay?

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(slots=True, kw_only=True)
class Bench:
    root: Path
    registry: LocalRegistry
    work: int
    timeout: float
    xbuild_jobs: int | None = None

    def namespace(self, contender: str) -> str:
        return f"{self.registry.address}/bench-{contender}"

    def prefix(self) -> str:
        return f"{self.registry.address}/bench-"

    def round(self, contender: str, run: int) -> list[Outcome]:
        """Cold, then a no-op rerun, then the one-image change, in one namespace."""
        go_cold(self.prefix())
        nonce = f"{contender}-{run}-{uuid.uuid4().hex[:12]}"
        cold = self._one(contender, run, "cold", nonce)
        before = published_digests(self.namespace(contender))
        noop = self._one(contender, run, "no-op", nonce)
        kept = published_digests(self.namespace(contender)) == before
        change = self._one(contender, run, "change", nonce)
        return [cold, replace(noop, digests_kept=kept), change]

    def alone(self, run: int) -> Outcome:
        """The goal's yardstick: xbuild building only the changed image and its child, cold."""
        go_cold(self.prefix())
        nonce = f"alone-{run}-{uuid.uuid4().hex[:12]}"
        return self._one("xbuild", run, "alone", nonce, only=CHILD)

    def _one(self, contender: str, run: int, scenario: str, nonce: str,
             only: str | None = None) -> Outcome:
        namespace = self.namespace(contender if only is None else "alone")
        folder = self.root / f"run{run}-{contender}-{scenario}"
        folder.mkdir()
        log = folder / "output.log"
        argv = self._command(contender, folder, namespace, nonce, changed=scenario == "change",
                             only=only)
        measured = measure(argv, log, timeout=self.timeout)
        problem = (f"exit code {measured.exit_code}" if measured.exit_code != 0
                   else "" if only else verify(namespace))
        note = (xbuild_timeline(folder / "logs")
                if contender == "xbuild" and scenario == "cold" and not problem else "")
        return Outcome(contender=contender, scenario=scenario, measured=measured,
                       problem=problem, log=log, run=run, note=note)

    def _command(self, contender: str, folder: Path, namespace: str, nonce: str, *,
                 changed: bool, only: str | None) -> list[str]:
        if contender == "xbuild":
            matrix = write_matrix(self.root, nonce, self.work, changed)
            jobs = [] if self.xbuild_jobs is None else ["--jobs", str(self.xbuild_jobs)]
            selection = ["build", only] if only else ["all"]
            return [*xbuild_command(), *selection, "--push", "-f", str(matrix), "--namespace",
                    namespace, "--log-dir", str(folder / "logs"), *jobs]
        make: Callable[[Path, str, str, int, bool], Path] = (bake_script if contender == "bake"
                                                              else loop_script)
        script = make(self.root, namespace, nonce, self.work, changed)
        kept = shutil.copy2(script, folder / script.name)
        return ["bash", str(kept)]


def published_digests(namespace: str) -> dict[str, str]:
    """Every per-arch tag's and list's digest, as the registry serves them now."""
    refs = [f"{namespace}/{image}:{TAG}" for image in IMAGES]
    refs += [per_arch_ref(namespace, image, a) for image in IMAGES for a in ARCH_NAMES]
    found = {}
    for ref in refs:
        raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                              f"docker://{ref}"], capture_output=True, check=False).stdout
        found[ref] = hashlib.sha256(raw).hexdigest() if raw else "absent"
    return found


def xbuild_timeline(log_dir: Path) -> str:
    """How busy xbuild kept its job slots: per-target start/end from its logs and summary."""
    summaries = sorted(log_dir.glob("*/summary.json"))
    if not summaries:
        return "no summary.json"
    summary = json.loads(summaries[-1].read_text())
    spans = []
    for target in summary["targets"]:
        end = Path(target["log"]).stat().st_mtime  # a target's log is last written at its end
        spans.append((end - float(target["seconds"]), end, f"{target['image']}-{target['arch']}"))
    first = min(s for s, _, _ in spans)
    last = max(e for _, e, _ in spans)
    busy = sum(e - s for s, e, _ in spans)
    lines = [f"xbuild run {summary['seconds']} s (targets {last - first:.1f} s, "
             f"target-seconds {busy:.1f}, mean concurrency {busy / (last - first):.2f})"]
    lines += [f"  {s - first:6.1f} -> {e - first:6.1f}  {name}" for s, e, name in sorted(spans)]
    return "\n".join(lines)


# --- report ----------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def report(outcomes: list[Outcome]) -> str:
    """One table per scenario, each contender's median wall time and its ratio to xbuild's."""
    lines = []
    for scenario in (*SCENARIOS, "alone"):
        runs = [o for o in outcomes if o.scenario == scenario]
        if not runs:
            continue
        lines.append(f"{scenario}:")
        wall = {c: median([o.measured.seconds for o in runs if o.contender == c and o.ok])
                for c in CONTENDERS if any(o.contender == c and o.ok for o in runs)}
        for contender in CONTENDERS:
            mine = [o for o in runs if o.contender == contender]
            if not mine:
                continue
            if contender not in wall:
                lines.append(f"  {contender:6} failed ({len(mine)} runs)")
                continue
            kept = [o.digests_kept for o in mine if o.digests_kept is not None]
            extra = f", digests kept: {all(kept)}" if kept else ""
            m = [o.measured for o in mine if o.ok]
            lines.append(f"  {contender:6} {wall[contender]:7.1f} s  max RSS "
                         f"{median([x.max_rss_kib for x in m]) / 1024:.0f} MiB  tree "
                         f"{median([x.tree_peak_kib for x in m]) / 1024:.0f} MiB  cpu "
                         f"{100 * median([x.cpu_busy for x in m]):.0f}% ("
                         f"{median([x.cpu_seconds for x in m]):.1f} CPU s, its own "
                         f"{median([x.client_cpu_seconds for x in m]):.1f}){extra}")
        if "xbuild" in wall and len(wall) > 1:
            lines.append("  " + ", ".join(f"xbuild/{c} = {wall['xbuild'] / wall[c]:.2f}"
                                          for c in CONTENDERS[1:] if c in wall))
            lines.append("  run by run (less of the machine's drift): " + "; ".join(
                f"xbuild/{c} " + " ".join(f"{r:.2f}" for r in paired(runs, "xbuild", c))
                for c in CONTENDERS[1:] if c in wall))
        lines.append("  floor (busy CPU s / cores, what no scheduler can beat): " + ", ".join(
            f"{c} {f:.1f} s ({wall[c] / f:.2f}x)" for c in wall
            if (f := floor([o.measured for o in runs if o.contender == c and o.ok]))))
    changes = [o for o in outcomes if o.scenario in {"change", "alone"} and o.contender == "xbuild"]
    if by_run := paired(changes, "change", "alone", lambda o: o.scenario):
        lines.append("xbuild change/alone run by run: " + " ".join(f"{r:.2f}" for r in by_run))
    return "\n".join(lines)


def paired(runs: Sequence[Outcome], mine: str, theirs: str,
           side: Callable[[Outcome], str] = lambda o: o.contender) -> list[float]:
    """For each run where both succeeded: the wall time of the outcome whose `side` is
    `mine` over that of the one whose `side` is `theirs` (by default, two contenders)."""
    wall = {(side(o), o.run): o.measured.seconds for o in runs if o.ok}
    return [wall[mine, run] / wall[theirs, run] for run in sorted({o.run for o in runs})
            if (mine, run) in wall and (theirs, run) in wall]


def floor(measured: Sequence[Measured]) -> float:
    """The shortest wall time the machine's busy CPU time allows on all its cores."""
    return median([m.cpu_seconds for m in measured]) / (os.cpu_count() or 1)


def calibrate(work: int) -> str:
    """How long one step of `work` iterations takes natively, on the host's busybox."""
    machine = platform.machine()
    name = {"x86_64": "amd64", "aarch64": "arm64v8"}.get(machine)
    if name is None:
        return f"no native calibration on {machine}"
    binary = busybox_binary(arch(name), cache_dir(), Shell())
    start = time.perf_counter()
    subprocess.run([str(binary), "sh", "-c", _LOOP], env={"WORK": str(work)}, check=True)
    return f"one native ({name}) step of --work {work}: {time.perf_counter() - start:.2f} s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options this fixture's benchmarks share: --work, --runs, --xbuild-jobs, --timeout."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--work", type=int, default=DEFAULT_WORK,
                        help="shell-loop iterations per image x arch (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs of each contender; the median is reported (default: 1)")
    parser.add_argument("--xbuild-jobs", type=int, default=None,
                        help="pass --jobs to xbuild (default: xbuild's own default)")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds before a contender is killed (default: %(default)s)")
    return parser


def checked(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.work < 1 or args.runs < 1:
        parser.error("--work and --runs must be at least 1")
    return args


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument("--keep", action="store_true",
                        help="keep the registry data, scripts and logs (the folder is printed)")
    return checked(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("docker", "docker-registry", "bash"):
        if shutil.which(tool) is None:
            print(f"engine_bench: {tool} is missing", file=sys.stderr)
            return 4
    print(calibrate(args.work))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"buildx {docker('buildx', 'version').stdout.split()[1]}")
    root = Path(tempfile.mkdtemp(prefix="xbuild-engine-bench-"))
    registry = LocalRegistry(port=free_port(), home=root / "registry")
    bench = Bench(root=root, registry=registry, work=args.work, timeout=args.timeout,
                  xbuild_jobs=args.xbuild_jobs)
    outcomes: list[Outcome] = []
    try:
        print(registry.start())
        stage_fixture(root, args.work)
        for run in range(args.runs):
            for contender in run_order(run):
                for outcome in bench.round(contender, run):
                    outcomes.append(outcome)
                    show(outcome, run)
                if contender == "xbuild":  # right after its change, which it is compared with
                    outcome = bench.alone(run)
                    outcomes.append(outcome)
                    show(outcome, run)
        print()
        print(report(outcomes))
    finally:
        remove_images(bench.prefix())
        print(registry.stop())
        if args.keep:
            print(f"kept: {root} (registry data in {root / 'registry' / 'data'})")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if all(o.ok for o in outcomes) else 1


def run_order(run: int) -> tuple[str, ...]:
    """xbuild and bake side by side, each first in every other run (so a machine that drifts
    slower or faster over minutes favours neither), then the loop."""
    pair = ("xbuild", "bake") if run % 2 == 0 else ("bake", "xbuild")
    return (*pair, "loop")


def show(outcome: Outcome, run: int) -> None:
    m = outcome.measured
    status = "ok" if outcome.ok else f"FAILED: {outcome.problem} (log: {outcome.log})"
    kept = "" if outcome.digests_kept is None else f"  digests kept: {outcome.digests_kept}"
    print(f"run {run + 1} {outcome.contender:6} {outcome.scenario:6} {m.seconds:7.1f} s  max RSS "
          f"{m.max_rss_kib / 1024:.0f} MiB  tree {m.tree_peak_kib / 1024:.0f} MiB  "
          f"cpu {100 * m.cpu_busy:.0f}% ({m.cpu_seconds:.1f} CPU s, its own "
          f"{m.client_cpu_seconds:.1f})  load {os.getloadavg()[0]:.1f}  {status}{kept}",
          flush=True)
    if not outcome.ok:
        tail = outcome.log.read_text(errors="replace").splitlines()[-15:]
        print("\n".join("    " + line for line in tail))
    if outcome.note:
        print(outcome.note)


if __name__ == "__main__":
    raise SystemExit(main())
