"""`xbuild sbom`: each arch's image exported once (the export verify reads, nothing started),
its inventory made into a CycloneDX SBOM (core/sbom.py), or one package's version per arch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xbuild.core.checks import match_entries
from xbuild.core.errors import CommandFailed, RegistryError
from xbuild.core.inventory import Inventory, normalise
from xbuild.core.platforms import Arch, arch_for_platform
from xbuild.core.refs import Reference
from xbuild.core.sbom import SbomSubject, make_sbom
from xbuild.engine.audit import expected_arches, gather_facts
from xbuild.engine.engines import Inspector


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchSbom:
    arch: Arch
    digest: str  # the per-arch manifest's; "" for a single image named by tag only
    inventory: Inventory
    document: str  # CycloneDX 1.6 JSON


def arch_sboms(ref: Reference, wanted: Sequence[Arch], docker: Inspector, *,
               tool_version: str) -> list[ArchSbom]:
    """The SBOM of each wanted arch of `ref` (a list, or a single image); CommandFailed when
    one cannot be read. An image pulled here is removed afterwards."""
    try:
        entries = docker.list_entries(ref)
    except CommandFailed as exc:
        raise RegistryError(f"cannot read {ref}: {exc}") from exc
    if entries is None:  # a single image: its config names its arch
        single = _one(ref, None, ref.digest, docker, tool_version)
        return [single] if single and (not wanted or single.arch in wanted) else []
    expected = expected_arches(entries, wanted)
    found, _ = match_entries(expected, entries)
    return [sbom for arch in expected if (entry := found[arch.name]) is not None
            and (sbom := _one(ref.pinned(entry.digest), arch, entry.digest, docker,
                              tool_version))]


def _one(image: Reference, arch: Arch | None, digest: str, docker: Inspector,
         tool_version: str) -> ArchSbom | None:
    """The SBOM of one image; None when it is a single image of no arch xbuild knows."""
    pulled_here = docker.pull(image)
    try:
        facts = gather_facts(image, docker)
    finally:
        if pulled_here:
            docker.remove_image(image)
    arch = arch or arch_for_platform(facts.platform)
    if arch is None:
        return None
    subject = SbomSubject(name=image.repository, digest=digest or str(image),
                          platform=facts.platform, created=facts.created)
    return ArchSbom(arch=arch, digest=digest, inventory=facts.inventory,
                    document=make_sbom(facts.inventory, subject, tool_version=tool_version))


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """One package named NAME in one arch's image."""

    kind: str  # deb, pypi, maven
    name: str
    version: str
    where: str  # the Debian architecture, or the path in the image


def find_package(inventory: Inventory, name: str) -> list[Found]:
    """Every Debian package, Python distribution or Java component called `name`."""
    key = normalise(name)
    return [*(Found(kind="deb", name=p.name, version=p.version, where=p.architecture)
              for p in inventory.packages if p.name == name),
            *(Found(kind="pypi", name=d.name, version=d.version, where=d.path)
              for d in inventory.distributions if d.key == key),
            *(Found(kind="maven", name=j.name, version=j.version, where=j.path)
              for j in inventory.java if j.name == name)]


def one_line(name: str, found: Sequence[tuple[Arch, Sequence[Found]]]) -> str:
    """`openssl 3.0.15-1~deb12u1 (amd64), 3.0.15-1~deb12u1 (arm32v7)`: the versions per arch,
    "none" where the arch's image has no such package."""
    parts = [f"{', '.join(sorted({f.version for f in hits})) or 'none'} ({arch.name})"
             for arch, hits in found]
    return f"{name} {', '.join(parts)}"
