"""Base images bootstrapped from a Debian mirror with mmdebstrap, so no registry is needed.

`xbuild bases` publishes `<ns>/debian:bookworm-slim-<arch>` and the list
`<ns>/debian:bookworm-slim`; builds then resolve `FROM debian:bookworm-slim` to them through
named build contexts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xbuild.core.buildspec import Provenance, base_request
from xbuild.core.errors import CommandFailed
from xbuild.core.matrix import BaseSpec
from xbuild.core.plan import ManifestList
from xbuild.core.platforms import Arch, sort_key
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult
from xbuild.engine.engines import Builder, Publisher
from xbuild.engine.publish import publish_one
from xbuild.engine.retry import short_error
from xbuild.host.cmd import Shell
from xbuild.host.run_folder import RunFolder

# What Debian's -slim images leave out; copyright files stay.
SLIM_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
_DOCKERFILE = 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n'
BOOTSTRAP_TIMEOUT = 3600.0


def mmdebstrap_argv(base: BaseSpec, arch: Arch, output: Path) -> list[str]:
    """Options first, then `--`: matrix.yml's suite and mirrors can only be positional."""
    sources = [f"deb {base.mirror} {base.suite} main",
               f"deb {base.mirror} {base.suite}-updates main"]
    if base.security:
        sources.append(f"deb {base.security} {base.suite}-security main")
    return ["mmdebstrap", "--variant=minbase", f"--architectures={arch.debian}",
            "--format=tar", *(f"--dpkgopt={o}" for o in SLIM_DPKG_OPTIONS),
            '--aptopt=Acquire::Languages "none"',
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/*',
            "--", base.suite, str(output), *sources]


def bootstrap_env(provenance: Provenance) -> dict[str, str] | None:
    """mmdebstrap's environment: with SOURCE_DATE_EPOCH (the checkout's commit time) its
    tarball is the same byte for byte while the mirror serves the same packages, so a base
    bootstrapped again keeps its digest unless a package changed (the weekly refresh then
    rebuilds only what new packages touch)."""
    if provenance.epoch is None:
        return None
    return {**os.environ, "SOURCE_DATE_EPOCH": str(provenance.epoch)}


def _publish_arch(base: BaseSpec, arch: Arch, namespace: str, builder: Builder,
                  shell: Shell, *, provenance: Provenance, run: RunFolder) -> Reference:
    """Bootstrap and push one base for one arch; returns the pushed image, by digest."""
    log_path = run.base_log(base.name.name, base.name.tag, arch.name)
    with tempfile.TemporaryDirectory(prefix="xbuild-base-") as tmp:
        workdir = Path(tmp)
        shell.run(mmdebstrap_argv(base, arch, workdir / "rootfs.tar"), output=log_path,
                  timeout=BOOTSTRAP_TIMEOUT, env=bootstrap_env(provenance))
        (workdir / "Dockerfile").write_text(_DOCKERFILE)
        request = base_request(base, arch, namespace=namespace, workdir=workdir,
                               provenance=provenance)
        with log_path.open("a", encoding="utf-8") as log:
            built = builder.build(request, log, lambda _line: None)
        return request.tag.pinned(built.digest)


def publish_base(base: BaseSpec, arches: Iterable[Arch], namespace: str, *,
                 builder_for: Callable[[Arch], Builder], publisher: Publisher, shell: Shell,
                 provenance: Provenance, run: RunFolder, jobs: int,
                 dry_run: bool = False) -> ListResult:
    """Each arch bootstrapped here and built by its builder (`builder_for`), then listed by
    `publisher`."""
    arches = sorted(set(arches), key=sort_key)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {a: pool.submit(_publish_arch, base, a, namespace, builder_for(a), shell,
                                  provenance=provenance, run=run) for a in arches}
    good, lacking = [], []
    for arch, future in futures.items():
        try:
            good.append((arch, future.result()))
        except CommandFailed as exc:
            lacking.append(f"{arch} ({short_error(exc.output)})")
    listed = base.published(namespace)
    manifest = ManifestList(image=str(base.name), ref=listed,
                            entries=tuple((a, listed.per_arch(a)) for a in arches))
    return publish_one(manifest, good, lacking, publisher, None, allow_partial=False,
                       dry_run=dry_run, current={})
