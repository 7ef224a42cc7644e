"""The provenance of each image a run stages (core/slsa.py), kept in the run folder's
evidence/ beside its SBOM, from what this run knows: the checkout, matrix.yml, the target's
inputs and identity, its bases, parent and downloads, the builder and the node."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import xbuild
from xbuild.core.buildspec import Provenance
from xbuild.core.errors import InvalidReference
from xbuild.core.identity import Resolution
from xbuild.core.imagespec import ImageSpec
from xbuild.core.matrix import Matrix
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import Status, TargetResult
from xbuild.core.slsa import BuildFacts, predicate
from xbuild.host.paths import write_text_atomically
from xbuild.host.run_folder import RunFolder
from xbuild.host.vcs import dirty
from xbuild.pipeline.tools import Tools


class ProvenanceWitness:
    """The runner's Witness: writes evidence/<target>.slsa.json for each staged image."""

    def __init__(self, matrix: Matrix, resolution: Resolution, run: RunFolder,
                 provenance: Provenance, kit: Tools) -> None:
        self.matrix, self.resolution, self.run, self.provenance = (matrix, resolution, run,
                                                                   provenance)
        self.root, self.shell = matrix.path.parent.resolve(), kit.shell
        self.builder: Callable[[str], tuple[tuple[str, str], ...]] = functools.cache(
            functools.partial(_builder, kit))

    # read when the first image is staged, so a no-op run runs no git and reads no file
    @functools.cached_property
    def matrix_sha256(self) -> str:
        return hashlib.sha256(self.matrix.path.read_bytes()).hexdigest()

    @functools.cached_property
    def dirty(self) -> bool:
        return dirty(self.root, self.shell)

    def __call__(self, result: TargetResult, parent: Reference | None) -> None:
        path = self.run.evidence(result.target.key).provenance
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, json.dumps(predicate(self.facts(result, parent)),
                                               indent=2, sort_keys=True))

    def facts(self, result: TargetResult, parent: Reference | None) -> BuildFacts:
        target = result.target
        spec = self.matrix.image(target.image)
        inputs = self.resolution.inputs[target.key]
        current = self.resolution.current_digests()
        if parent is not None and not parent.digest and str(parent) in current:
            parent = parent.pinned(current[str(parent)])
        return BuildFacts(
            subject=target.ref.pinned(result.digest), image=target.image,
            identity=self.resolution.identities.get(target.key) or "", inputs=inputs,
            source=self.provenance.source, revision=self.provenance.revision,
            dirty=self.dirty, matrix=self._relative(self.matrix.path),
            matrix_sha256=self.matrix_sha256, dockerfile=self._relative(spec.dockerfile),
            bases=_bases(inputs.bases), parent=parent,
            downloads=_downloads(spec, target.arch, dict(inputs.downloads)),
            builder=(self.builder(result.node) if result.status is Status.PUSHED
                     else (("xbuild", xbuild.__version__),)),  # STAGED: built by another run
            node=result.node, invocation=self.run.path.name,
            started=_time(result.started),
            finished=_time(result.started + result.seconds if result.started else 0.0))

    def _relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return path.name


def _builder(kit: Tools, node: str) -> tuple[tuple[str, str], ...]:
    docker = kit.engines.on(node)
    return (("xbuild", xbuild.__version__), ("engine", docker.server_version()),
            ("buildx", docker.buildx_version()))


def _bases(pairs: tuple[tuple[str, str | None], ...]) -> tuple[Reference, ...]:
    found = []
    for name, digest in pairs:
        try:
            if digest:  # a staged target's bases are all resolved: its identity needs them
                found.append(Reference.parse(name).pinned(digest))
        except InvalidReference:
            continue  # checked when it was resolved
    return tuple(found)


def _downloads(spec: ImageSpec, arch: Arch, checksums: dict[str, str | None]
               ) -> tuple[tuple[str, str, str], ...]:
    if spec.downloads is None:
        return ()
    return tuple((name, source.url, checksums.get(name) or source.sha256 or "")
                 for name, source in spec.downloads.for_arch(arch))


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if seconds \
        else ""
