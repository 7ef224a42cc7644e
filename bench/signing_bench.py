"""Trust's cost: the SBOM and the signatures per target, and the cold and no-op ratios against
bake, this checkout signing (now) and the revision before signing existed (before), in one run.

Not a test. On a throwaway local registry, engine_bench's 15-target fixture (5 images x 3
arches, FROM scratch plus Debian's static busybox), each contender in a namespace of its own
and with a nonce of its own, so that each cold run builds afresh:

  signed    `xbuild all --push --sign-key K` of this checkout (verify, SBOM, provenance,
            cosign attest x2 and sign per target, the list signed)
  verified  `xbuild all --push --verify` of this checkout (the same without signing)
  before    `xbuild all --push --verify` of `git archive --before`
  bake      `docker buildx bake --push` of the same 15 targets plus 5 `imagetools create`

Printed: each contender's cold wall time and its ratio to bake's; the final step per image,
signed and verified (their difference over 3 arches: signing's cost per target); then the
no-op reruns, alternating the order, with medians and run-by-run ratios to bake. Last, the
SBOM's own cost per target (make_sbom over what verify's export already read) on a Debian
image: bookworm's essential set plus orthanc, bootstrapped with mmdebstrap (cached).

    .venv/bin/python bench/signing_bench.py [--runs 5] [--before REV] [--work 1000]
"""

from __future__ import annotations

import argparse
import os
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
from bench.publish_bench import bake, final_steps  # noqa: E402
from bench.startup_bench import unpack  # noqa: E402
from xbuild.core.platforms import Platform  # noqa: E402
from xbuild.core.refs import Reference  # noqa: E402
from xbuild.core.sbom import SbomSubject, make_sbom  # noqa: E402
from xbuild.engine.audit import gather_facts  # noqa: E402
from xbuild.engine.engines import Engines  # noqa: E402
from xbuild.host.local_registry import LocalRegistry  # noqa: E402
from xbuild.host.paths import cache_dir  # noqa: E402

REPO = BENCH.parent
PASSWORD = "bench"
MIRROR = "http://deb.debian.org/debian"


def argv(matrix: Path, namespace: str, runs: Path, *flags: str) -> list[str]:
    return [sys.executable, "-S", "-m", "xbuild", "all", "--push", "-f", str(matrix),
            "--namespace", namespace, "--log-dir", str(runs), *flags]


def cold(root: Path, name: str, contender: list[str], code: Path) -> float:
    seconds, *_ = timed(contender, code, root)
    print(f"cold {name:8} {seconds:7.1f} s")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", default="eb64c05")  # the last commit before signing
    parser.add_argument("--work", type=int, default=1000)
    args = parser.parse_args()
    os.environ["COSIGN_PASSWORD"] = PASSWORD
    root = Path(tempfile.mkdtemp(prefix="xbuild-signing-bench-"))
    registry = LocalRegistry(port=free_port(), home=root / "registry")
    prefix = f"127.0.0.1:{registry.port}/bench-signing"
    try:
        print(registry.start())
        stage_fixture(root, args.work)
        subprocess.run(["cosign", "generate-key-pair"], cwd=root, check=True,
                       capture_output=True)
        (root / "before").mkdir()
        before = unpack(args.before, root / "before")
        contenders = _cold_runs(root, prefix, args.work, before)
        _noop_runs(contenders, root, args.runs)
        _sbom_cost(root, registry)
        return 0
    finally:
        for name in ("signed", "verified", "before", "bake", "debian"):
            remove_images(f"{prefix}-{name}")
        print(registry.stop())
        shutil.rmtree(root, ignore_errors=True)


def _cold_runs(root: Path, prefix: str, work: int,
               before: Path) -> dict[str, tuple[list[str], Path]]:
    """Each contender's cold run; returns what its no-op rerun runs (argv, code)."""
    key = str(root / "cosign.key")
    flags = {"signed": ("--sign-key", key), "verified": ("--verify",),
             "before": ("--verify",)}
    codes = {"signed": REPO, "verified": REPO, "before": before}
    found: dict[str, tuple[list[str], Path]] = {}
    seconds: dict[str, float] = {}
    steps: dict[str, dict[str, float]] = {}
    for name in ("signed", "verified", "before"):
        matrix = write_matrix(root, name, work)  # the nonce: each builds afresh
        runs = root / f"runs-{name}"
        found[name] = (argv(matrix, f"{prefix}-{name}", runs, *flags[name], "--json"),
                       codes[name])
        seconds[name] = cold(root, name, found[name][0], codes[name])
        steps[name] = final_steps(runs)
        found[name][0][found[name][0].index("-f") + 1] = str(_keep(matrix, name))
    script = bake_script(root, f"{prefix}-bake", "bake", work, changed=False)
    seconds["bake"] = bake(script)
    print(f"cold bake     {seconds['bake']:7.1f} s")
    for name in ("signed", "verified", "before"):
        print(f"cold {name}/bake {seconds[name] / seconds['bake']:.3f}")
    _show_signing(steps["signed"], steps["verified"])
    found["bake"] = (["bash", str(script)], REPO)
    return found


def _keep(matrix: Path, name: str) -> Path:
    kept = matrix.with_name(f"matrix-{name}.yml")
    shutil.copy2(matrix, kept)
    return kept


def _show_signing(signed: dict[str, float], verified: dict[str, float]) -> None:
    for image in sorted(signed):
        print(f"final step {image}: signed {signed[image]:.2f} s, unsigned "
              f"{verified[image]:.2f} s")
    per_target = [(signed[i] - verified[i]) / 3 for i in signed]
    print(f"signing per target (2 attestations and a signature; the list's share included): "
          f"median {statistics.median(per_target):.2f} s "
          f"(min {min(per_target):.2f}, max {max(per_target):.2f})")


def _noop_runs(contenders: dict[str, tuple[list[str], Path]], root: Path, runs: int) -> None:
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for run in range(runs):
        for name in names if run % 2 == 0 else reversed(names):
            command, code = contenders[name]
            if name == "bake":
                wall[name].append(bake(Path(command[1])))
                continue
            seconds, _cpu, output, _said = timed(command, code, root)
            if problem := all_up_to_date(output):
                raise SystemExit(f"{name}, run {run}: {problem}")
            wall[name].append(seconds)
    for name, values in wall.items():
        print(f"no-op {name:8} median {statistics.median(values):.3f} s "
              f"(best {min(values):.3f} s)")
    for name in ("signed", "verified", "before"):
        ratios = [mine / theirs for mine, theirs in zip(wall[name], wall["bake"], strict=True)]
        print(f"no-op {name}/bake, run by run: median {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {runs} runs)")


def _sbom_cost(root: Path, registry: LocalRegistry) -> None:
    """make_sbom's time on a Debian image's inventory, read as verify's export reads it."""
    rootfs = cache_dir() / "bench-bookworm-orthanc-amd64.tar"
    if not rootfs.is_file():
        partial = rootfs.with_suffix(".part")
        subprocess.run(["mmdebstrap", "--variant=essential", "--include=orthanc",
                        "--architectures=amd64", "--format=tar", "--", "bookworm",
                        str(partial), MIRROR], check=True, capture_output=True, timeout=1800)
        partial.rename(rootfs)
    context = root / "debian"
    context.mkdir()
    shutil.copyfile(rootfs, context / "rootfs.tar")
    (context / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n")
    ref = f"127.0.0.1:{registry.port}/bench-signing-debian:t"
    subprocess.run(["docker", "build", "-q", "-t", ref, str(context)], check=True,
                   capture_output=True)
    docker = Engines().on()
    facts = gather_facts(Reference.parse(ref), docker)
    subject = SbomSubject(name=ref, digest="sha256:" + "0" * 64,
                          platform=Platform.parse("linux/amd64"), created=facts.created)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        make_sbom(facts.inventory, subject, tool_version="bench")
        times.append(time.perf_counter() - start)
    print(f"SBOM of bookworm essential + orthanc ({len(facts.inventory.packages)} packages): "
          f"make_sbom median {statistics.median(times):.3f} s over 5")


if __name__ == "__main__":
    sys.exit(main())
