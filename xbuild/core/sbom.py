"""An image's SBOM: CycloneDX 1.6 JSON, written with cyclonedx-python-lib from one arch's
inventory (core/inventory.py), and the check that an SBOM from elsewhere lists the Debian
packages dpkg says the image holds.

Reproducible: the same image gives the same bytes. The timestamp is the image's build time
(its config's `created`, not the clock), the serial number is derived from the image's digest
(uuid5), every bom-ref is chosen here (never random), and the library sorts the components.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from xbuild.core.inventory import DebPackage, Inventory, PythonDist
from xbuild.core.java_archives import JavaArchive
from xbuild.core.platforms import Platform
from xbuild.core.text import printable

SERIAL_NAMESPACE = uuid.UUID("5c5b7a3e-5f0a-4bd6-9d84-3c3f0c8f6a20")  # xbuild's, fixed forever
MAX_SBOM_BYTES = 64 << 20  # an SBOM from a registry larger than this is not read
MAX_COMPONENTS = 200_000
PATH = "xbuild:path"  # the property naming where in the image a component was found
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INCOMPLETE = "xbuild:incomplete"  # what a cap cut short: the SBOM is partial


@dataclass(frozen=True, slots=True, kw_only=True)
class SbomSubject:
    """The image an SBOM describes."""

    name: str  # its repository: 127.0.0.1:5000/derekmerck/orthanc
    digest: str  # of its per-arch manifest
    platform: Platform
    created: datetime | None  # its config's build time; None: the epoch (never the clock)


def deb_purl(package: DebPackage, distro: str) -> PackageURL:
    """pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-12, with `upstream=` naming
    the source package (and its version when it differs) where it is not the binary's."""
    qualifiers = {"arch": package.architecture}
    if distro:
        qualifiers["distro"] = distro
    if (package.source and package.source != package.name) or package.source_version:
        source = package.source or package.name
        qualifiers["upstream"] = (f"{source}@{package.source_version}"
                                  if package.source_version else source)
    return PackageURL(type="deb", namespace="debian", name=package.name,
                      version=package.version, qualifiers=qualifiers)


def pypi_purl(dist: PythonDist) -> PackageURL:
    return PackageURL(type="pypi", name=dist.key, version=dist.version)


def maven_purl(archive: JavaArchive) -> PackageURL | None:
    if not archive.group:
        return None  # named by its manifest only: no Maven coordinates
    return PackageURL(type="maven", namespace=archive.group, name=archive.name,
                      version=archive.version or None)


def _debian(package: DebPackage, distro: str) -> Component:
    purl = deb_purl(package, distro)
    return Component(type=ComponentType.LIBRARY, name=package.name, version=package.version,
                     purl=purl, bom_ref=purl.to_string(),
                     licenses=[DisjunctiveLicense(name=n) for n in package.licences])


def _python(dist: PythonDist) -> Component:
    purl = pypi_purl(dist)
    return Component(type=ComponentType.LIBRARY, name=dist.name, version=dist.version,
                     purl=purl, bom_ref=f"{purl.to_string()}#{dist.path}",
                     properties=[Property(name=PATH, value=dist.path)])


def _java(archive: JavaArchive) -> Component:
    purl = maven_purl(archive)
    ref = f"{archive.path}#{archive.group}:{archive.name}:{archive.version}"
    return Component(type=ComponentType.LIBRARY, name=archive.name or archive.path,
                     group=archive.group or None, version=archive.version or None, purl=purl,
                     bom_ref=ref, properties=[Property(name=PATH, value=archive.path)])


def make_sbom(inventory: Inventory, subject: SbomSubject, *, tool_version: str) -> str:
    """The CycloneDX 1.6 JSON document of one arch's image."""
    bom = Bom(serial_number=uuid.uuid5(SERIAL_NAMESPACE, subject.digest))
    bom.metadata.timestamp = subject.created or EPOCH
    image = Component(type=ComponentType.CONTAINER, name=subject.name, version=subject.digest,
                      bom_ref=f"{subject.name}@{subject.digest}",
                      properties=[Property(name="xbuild:platform",
                                           value=str(subject.platform))])
    bom.metadata.component = image
    bom.metadata.tools.components.add(Component(
        type=ComponentType.APPLICATION, name="xbuild", version=tool_version, bom_ref="xbuild"))
    bom.metadata.properties.update(Property(name=INCOMPLETE, value=problem)
                                   for problem in (*inventory.incomplete, *inventory.unread))
    components = [*(_debian(p, inventory.distro) for p in inventory.packages),
                  *(_python(d) for d in inventory.distributions),
                  *(_java(j) for j in inventory.java)]
    bom.components.update(components)
    bom.register_dependency(image, components)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library's note that a graph may be incomplete
        return JsonV1Dot6(bom).output_as_string(indent=2)


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Listed:
    """A Debian package as an SBOM's purl or dpkg names it."""

    name: str
    version: str
    architecture: str

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.architecture})"


def sbom_differences(document: bytes, inventory: Inventory) -> tuple[str, ...]:
    """How the Debian packages an SBOM (hostile JSON) lists differ from what dpkg says the
    image holds; () when they are the same. Only components[].purl is read."""
    listed, problem = _listed_debs(document)
    if problem:
        return (problem,)
    held = {Listed(name=p.name, version=p.version, architecture=p.architecture)
            for p in inventory.packages}
    return (*(f"only in the SBOM: {p}" for p in sorted(listed - held)),
            *(f"not in the SBOM: {p}" for p in sorted(held - listed)))


def _listed_debs(document: bytes) -> tuple[set[Listed], str]:
    if len(document) > MAX_SBOM_BYTES:
        return set(), f"the SBOM is larger than {MAX_SBOM_BYTES >> 20} MiB: not read"
    try:
        data = json.loads(document)
    except (ValueError, RecursionError) as exc:
        return set(), f"the SBOM is not JSON: {printable(str(exc), 120)}"
    components = data.get("components", []) if isinstance(data, dict) else None
    if not isinstance(components, list) or len(components) > MAX_COMPONENTS:
        return set(), "the SBOM has no list of components (or more than the cap)"
    return set(_debs(c.get("purl") for c in components if isinstance(c, dict))), ""


def _debs(purls: Iterable[object]) -> Iterable[Listed]:
    for text in purls:
        if not isinstance(text, str) or not text.startswith("pkg:deb/"):
            continue
        try:
            purl = PackageURL.from_string(text[:4096])
        except ValueError:
            continue
        arch = purl.qualifiers.get("arch", "") if isinstance(purl.qualifiers, dict) else ""
        yield Listed(name=printable(purl.name, 200), version=printable(purl.version or "", 200),
                     architecture=printable(arch, 200))
