"""Base images bootstrapped from a Debian mirror with mmdebstrap, so no registry is needed.

`xbuild bases` publishes `<ns>/debian:bookworm-slim-<arch>` and the list
`<ns>/debian:bookworm-slim`; builds then resolve `FROM debian:bookworm-slim` to them through
named build contexts.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from xbuild.buildspec import BuildRequest, Pairs, Provenance, pinned
from xbuild.docker import Docker, DockerFailure
from xbuild.errors import EnvironmentProblem
from xbuild.matrix import BaseSpec
from xbuild.plan import ManifestList
from xbuild.platforms import Arch, sort_key
from xbuild.publish import publish_one
from xbuild.results import ListResult
from xbuild.retry import short_error

# What Debian's -slim images leave out; copyright files stay.
SLIM_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
_DOCKERFILE = 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n'


def per_arch_ref(namespace: str, base: BaseSpec, arch: Arch) -> str:
    return f"{namespace}/{base.repository}:{base.tag}-{arch.name}"


def list_ref(namespace: str, base: BaseSpec) -> str:
    return f"{namespace}/{base.repository}:{base.tag}"


def mmdebstrap_argv(base: BaseSpec, arch: Arch, output: Path) -> list[str]:
    sources = [f"deb {base.mirror} {base.suite} main",
               f"deb {base.mirror} {base.suite}-updates main"]
    if base.security:
        sources.append(f"deb {base.security} {base.suite}-security main")
    return ["mmdebstrap", "--variant=minbase", f"--architectures={arch.debian}",
            "--format=tar", *(f"--dpkgopt={o}" for o in SLIM_DPKG_OPTIONS),
            '--aptopt=Acquire::Languages "none"',
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/*',
            base.suite, str(output), *sources]


def bootstrap(base: BaseSpec, arch: Arch, workdir: Path, log: TextIO) -> Path:
    if shutil.which("mmdebstrap") is None:
        raise EnvironmentProblem("mmdebstrap is missing: install Debian's mmdebstrap and "
                                 "arch-test (ci/host-setup.sh does)")
    rootfs = workdir / "rootfs.tar"
    argv = mmdebstrap_argv(base, arch, rootfs)
    log.write(f"+ {shlex.join(argv)}\n")
    log.flush()
    done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise DockerFailure(" ".join(argv), f"ERROR: mmdebstrap failed for {base.name} "
                                            f"{arch} (exit {done.returncode}); see the log")
    return rootfs


def _publish_arch(base: BaseSpec, arch: Arch, namespace: str, docker: Docker, *,
                  provenance: Provenance, log_dir: Path) -> str:
    """Bootstrap and push one base for one arch; returns the pushed digest."""
    with tempfile.TemporaryDirectory(prefix="xbuild-base-") as tmp, \
            (log_dir / f"{base.repository}-{base.tag}-{arch.name}.log").open("w") as log:
        workdir = Path(tmp)
        if docker.dry_run:
            docker.echo(shlex.join(mmdebstrap_argv(base, arch, workdir / "rootfs.tar")))
        else:
            bootstrap(base, arch, workdir, log)
        (workdir / "Dockerfile").write_text(_DOCKERFILE)
        labels = (("architecture", arch.name),
                  ("org.opencontainers.image.created", provenance.created),
                  ("org.opencontainers.image.title", base.name),
                  ("org.opencontainers.image.description",
                   f"Debian {base.suite} minbase from {base.mirror}, by mmdebstrap"))
        request = BuildRequest(key=f"base-{arch.name}", context=workdir,
                               dockerfile=workdir / "Dockerfile", platform=arch.platform,
                               tag=per_arch_ref(namespace, base, arch), build_args=(),
                               labels=labels, contexts=(), push=True)
        return docker.build(request, log, lambda _line: None).digest


def publish_base(base: BaseSpec, arches: Iterable[Arch], namespace: str, docker: Docker, *,
                 provenance: Provenance, log_dir: Path, jobs: int) -> ListResult:
    arches = sorted(set(arches), key=sort_key)
    log_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {a: pool.submit(_publish_arch, base, a, namespace, docker,
                                  provenance=provenance, log_dir=log_dir) for a in arches}
    good, lacking = [], []
    for arch, future in futures.items():
        try:
            good.append((arch, pinned(per_arch_ref(namespace, base, arch), future.result())))
        except DockerFailure as exc:
            lacking.append(f"{arch} ({short_error(exc.output)})")
    manifest = ManifestList(image=base.name, ref=list_ref(namespace, base),
                            entries=tuple((a, per_arch_ref(namespace, base, a)) for a in arches))
    return publish_one(manifest, good, lacking, docker, allow_partial=False)


def base_contexts(bases: Iterable[BaseSpec], arches: Iterable[Arch], namespace: str,
                  docker: Docker) -> tuple[dict[str, Pairs], list[str]]:
    """Per arch, the named contexts that send `FROM <base>` to a bootstrapped base.

    Returns them with notes on the bases that are not bootstrapped in `namespace` (those
    builds will try to pull the base as usual).
    """
    contexts: dict[str, list[tuple[str, str]]] = {}
    notes = []
    for base in bases:
        for arch in arches:
            ref = per_arch_ref(namespace, base, arch)
            if _present(docker, ref):
                contexts.setdefault(arch.name, []).append((base.name, f"docker-image://{ref}"))
            else:
                notes.append(f"{base.name} for {arch} is not bootstrapped in {namespace} "
                             "(run `xbuild bases`); the build will try to pull it")
    return {arch: tuple(pairs) for arch, pairs in contexts.items()}, notes


def _present(docker: Docker, ref: str) -> bool:
    try:
        return docker.remote_exists(ref)
    except DockerFailure:
        return False  # an unreachable registry holds nothing we can use


def describe(contexts: Mapping[str, Pairs]) -> list[str]:
    return [f"{arch}: FROM {name} -> {source.removeprefix('docker-image://')}"
            for arch, pairs in sorted(contexts.items()) for name, source in pairs]
