"""How much `xbuild verify` costs over the bare minimum: running `arch` in each arch once.

Not a test. Builds a 3-arch busybox image (FROM scratch, Debian's busybox-static), publishes
it as a manifest list in a throwaway local registry, then times, best of --runs:
  - `xbuild verify <list>`: list entries, config, label, ELF header, `arch`, dpkg per arch;
  - three bare `docker run --rm --platform P <ref>@<digest> arch`, one after another.
Prints both and their ratio.

    .venv/bin/python bench/verify_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from xbuild.core.platforms import arch_named
from xbuild.host.cmd import Shell
from xbuild.host.local_registry import LocalRegistry
from xbuild.host.paths import cache_dir
from xbuild.host.probe import busybox_binary

ARCHES = {"amd64": "linux/amd64", "arm32v7": "linux/arm/v7", "arm64v8": "linux/arm64"}
SUFFIX = {"amd64": "amd64", "arm32v7": "armv7", "arm64v8": "arm64"}
DOCKERFILE = """FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${TARGETARCH}${TARGETVARIANT} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


def sh(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def publish(context: Path, repository: str) -> dict[str, str]:
    """Build and push each arch, then the list; returns arch -> digest."""
    for name in ARCHES:
        arch = arch_named(name)
        assert arch is not None
        binary = busybox_binary(arch, cache_dir(), Shell())
        shutil.copy2(binary, context / f"busybox-{SUFFIX[name]}")
    (context / "Dockerfile").write_text(DOCKERFILE)
    digests = {}
    for name, platform in ARCHES.items():
        meta = context / f"{name}.json"
        sh("docker", "buildx", "build", "--quiet", "--platform", platform, "--push",
           "--label", f"architecture={name}", "--metadata-file", str(meta),
           "-t", f"{repository}:latest-{name}", str(context))
        digests[name] = json.loads(meta.read_text())["containerimage.digest"]
    sh("docker", "buildx", "imagetools", "create", "-t", f"{repository}:latest",
       *(f"{repository}@{d}" for d in digests.values()))
    return digests


def best_of(runs: int, action: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xbuild-verify-bench-") as tmp:
        registry = LocalRegistry(port=free_port(), home=Path(tmp) / "registry")
        registry.start()
        try:
            repository = f"{registry.address}/bench/verify"
            context = Path(tmp) / "context"
            context.mkdir()
            digests = publish(context, repository)
            xbuild = [sys.executable, "-m", "xbuild", "verify", f"{repository}:latest"]

            def bare() -> None:
                for name, platform in ARCHES.items():
                    sh("docker", "run", "--rm", "--network", "none", "--platform", platform,
                       f"{repository}@{digests[name]}", "arch")

            def verify_once() -> None:
                sh(*xbuild)

            verify = best_of(options.runs, verify_once)
            baseline = best_of(options.runs, bare)
        finally:
            registry.stop()
    print(f"3-arch image, best of {options.runs}:")
    print(f"  xbuild verify            {verify:6.2f} s")
    print(f"  3 bare `docker run arch` {baseline:6.2f} s")
    print(f"  ratio verify/bare = {verify / baseline:.2f}")


if __name__ == "__main__":
    main()
