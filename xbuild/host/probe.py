"""Tiny per-arch probe images (busybox on scratch) that prove a container of an arch runs.

They are made from Debian's busybox-static package, so they need no image registry: only an
apt source, which closed hospital networks usually mirror.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from xbuild.core.buildspec import probe_request
from xbuild.core.errors import CommandFailed, EnvironmentProblem
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.host.cmd import Shell
from xbuild.host.paths import replace_atomically

if TYPE_CHECKING:
    from xbuild.engine.docker import Docker

PROBE_REPOSITORY = "xbuild-probe"
_DOCKERFILE = "FROM scratch\nCOPY busybox /bin/busybox\n"


def probe_ref(arch: Arch) -> Reference:
    return Reference(repository=PROBE_REPOSITORY, tag=f"busybox-{arch.name}")


def busybox_binary(arch: Arch, cache: Path, shell: Shell) -> Path:
    """Debian's static busybox for `arch`, downloaded once with apt and kept in `cache`."""
    target = cache / "busybox" / arch.debian / "busybox"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix="xbuild-busybox-") as tmp:
        package = f"busybox-static:{arch.debian}"
        try:
            shell.run(["apt-get", "download", "-q", package], cwd=Path(tmp), timeout=300)
            (deb,) = Path(tmp).glob("busybox-static_*.deb")
            shell.run(["dpkg-deb", "-x", str(deb), f"{tmp}/root"], timeout=60)
        except (CommandFailed, ValueError) as exc:
            reason = str(exc) if isinstance(exc, CommandFailed) else "no package downloaded"
            raise EnvironmentProblem(
                f"no probe for {arch}: `apt-get download {package}` failed: {reason} "
                f"(is the {arch.debian} architecture added with dpkg?)") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(target, lambda partial: shutil.copy2(
            Path(tmp) / "root" / "bin" / "busybox", partial))
    return target


def ensure_probe(arch: Arch, docker: Docker, cache: Path, shell: Shell) -> Reference:
    """A local image of `arch` whose /bin/busybox can answer `arch`; built on first use."""
    ref = probe_ref(arch)
    if docker.image_exists(ref):
        return ref
    binary = busybox_binary(arch, cache, shell)
    with tempfile.TemporaryDirectory(prefix="xbuild-probe-") as tmp:
        shutil.copy2(binary, Path(tmp) / "busybox")
        (Path(tmp) / "Dockerfile").write_text(_DOCKERFILE)
        try:
            docker.build(probe_request(arch, workdir=Path(tmp), tag=ref), io.StringIO(),
                         lambda _line: None)
        except CommandFailed as exc:
            raise EnvironmentProblem(f"cannot build the {arch} probe image: {exc}") from exc
    return ref
