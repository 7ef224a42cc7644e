"""Tiny per-arch probe images (busybox on scratch) that prove a container of an arch runs.

They are made from Debian's busybox-static package, so they need no image registry: only an
apt source, which closed hospital networks usually mirror.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from xbuild.buildspec import BuildRequest
from xbuild.docker import Docker, DockerFailure
from xbuild.errors import EnvironmentProblem
from xbuild.platforms import Arch

PROBE_REPOSITORY = "xbuild-probe"
_DOCKERFILE = "FROM scratch\nCOPY busybox /bin/busybox\n"


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "xbuild"


def probe_ref(arch: Arch) -> str:
    return f"{PROBE_REPOSITORY}:busybox-{arch.name}"


def busybox_binary(arch: Arch, cache: Path) -> Path:
    """Debian's static busybox for `arch`, downloaded once with apt and kept in `cache`."""
    target = cache / "busybox" / arch.debian / "busybox"
    if target.is_file():
        return target
    if shutil.which("apt-get") is None:
        raise EnvironmentProblem(f"no probe for {arch}: apt-get is missing, so Debian's "
                                 f"busybox-static:{arch.debian} cannot be fetched")
    with tempfile.TemporaryDirectory(prefix="xbuild-busybox-") as tmp:
        fetched = subprocess.run(["apt-get", "download", "-q", f"busybox-static:{arch.debian}"],
                                 cwd=tmp, capture_output=True, text=True, check=False)
        debs = list(Path(tmp).glob("busybox-static_*.deb"))
        if fetched.returncode != 0 or not debs:
            reason = fetched.stderr.strip().splitlines()[-1:] or ["no package downloaded"]
            raise EnvironmentProblem(
                f"no probe for {arch}: `apt-get download busybox-static:{arch.debian}` failed: "
                f"{reason[0]} (is the {arch.debian} architecture added with dpkg?)")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/root"], check=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(tmp) / "root" / "bin" / "busybox", target)
    return target


def ensure_probe(arch: Arch, docker: Docker, cache: Path) -> str:
    """A local image of `arch` whose /bin/busybox can answer `arch`; built on first use."""
    ref = probe_ref(arch)
    if docker.image_exists(ref):
        return ref
    binary = busybox_binary(arch, cache)
    with tempfile.TemporaryDirectory(prefix="xbuild-probe-") as tmp:
        shutil.copy2(binary, Path(tmp) / "busybox")
        (Path(tmp) / "Dockerfile").write_text(_DOCKERFILE)
        request = BuildRequest(key=f"probe-{arch.name}", context=Path(tmp),
                               dockerfile=Path(tmp) / "Dockerfile", platform=arch.platform,
                               tag=ref, build_args=(), labels=(("architecture", arch.name),),
                               contexts=(), push=False)
        try:
            docker.build(request, io.StringIO(), lambda _line: None)
        except DockerFailure as exc:
            raise EnvironmentProblem(f"cannot build the {arch} probe image: {exc}") from exc
    return ref
