"""What one arch's image holds, read from its exported files: the Debian packages dpkg lists
(with the licences their copyright files state, core/licences.py), the Python distributions
(dist-info, egg-info), the Java archives (core/java_archives.py), the Debian release, and the
entries under declared folders. Pure:
the engine hands over the bytes as it streams the export (engine/rootfs.py).

Parity (core/parity.py) compares inventories across arches; the SBOM (core/sbom.py) is made
from the same records. Every count and size is capped, since the image is hostile: a cap
reached is written down in `incomplete`, never silently dropped.
"""

from __future__ import annotations

import email.parser
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import IO

from xbuild.core.java_archives import JavaArchive, read_java_archive
from xbuild.core.licences import MAX_COPYRIGHT_BYTES, dep5_licences
from xbuild.core.text import printable

MAX_STATUS_BYTES = 64 << 20  # all of dpkg's status read; a full desktop's is about 10 MiB
MAX_LINE_BYTES = 64 << 10  # a longer line of the status file is read in pieces
MAX_PACKAGES = 100_000  # Debian's whole archive has about 65000 binary packages per arch
MAX_METADATA_BYTES = 64 << 10  # of each METADATA/PKG-INFO: Name and Version come first
MAX_DISTRIBUTIONS = 50_000
MAX_VALUE = 200  # characters kept of a name or version
MAX_COPYRIGHTS = 100_000  # copyright files read (one a package)
MAX_JAVA = 50_000  # Java components kept
MAX_UNREAD = 100  # notes of what the SBOM leaves out
MAX_RELEASE_BYTES = 4 << 10  # of /etc/os-release and /etc/debian_version
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
DEBIAN_VERSION = "etc/debian_version"
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"  # distroless images: one stanza file per package
_KEPT_FIELDS = {b"package", b"version", b"architecture", b"source", b"status"}
# dpkg's package states in which the package's files are on disk
_ON_DISK = {"installed", "half-configured", "unpacked", "half-installed", "triggers-awaited",
            "triggers-pending"}
_SOURCE = re.compile(r"(\S+)(?:\s+\((\S+)\))?")
_NORMALISE = re.compile(r"[-_.]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class DebPackage:
    """One installed package as dpkg's status file records it."""

    name: str
    version: str
    architecture: str  # amd64, armhf, arm64, all
    source: str = ""  # its source package, "" when named as the binary package
    source_version: str = ""  # "" when the same as `version`
    licences: tuple[str, ...] = ()  # as its machine-readable copyright file names them


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonDist:
    """One Python distribution, from its METADATA or PKG-INFO."""

    name: str  # as its metadata spells it
    version: str
    path: str  # its .dist-info or .egg-info, in the image (no leading /)

    @property
    def key(self) -> str:
        """The name as Python's packaging compares names (PEP 503): numpy == NumPy."""
        return normalise(self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """The entries under a folder declared in matrix.yml, as paths relative to it."""

    folder: str  # as declared: /usr/share/orthanc/plugins
    entries: tuple[str, ...] | None  # sorted; None when the folder is not in the image


@dataclass(frozen=True, slots=True, kw_only=True)
class Inventory:
    packages: tuple[DebPackage, ...] = ()  # by name, then architecture
    distributions: tuple[PythonDist, ...] = ()  # by key, then path
    listings: tuple[Listing, ...] = ()  # in matrix.yml's order
    java: tuple[JavaArchive, ...] = ()  # by path, then group, name, version
    distro: str = ""  # debian-12, from os-release (or debian_version); "" when unknown
    incomplete: tuple[str, ...] = ()  # what a cap cut short: the inventory is partial
    # what a cap kept from the SBOM's extras (licences, Java archives), which parity does not
    # compare: the SBOM is partial, parity is not
    unread: tuple[str, ...] = ()


def normalise(name: str) -> str:
    return _NORMALISE.sub("-", name).lower()


def is_python_metadata(name: str) -> bool:
    """A member whose head holds a distribution's Name and Version (name without leading /)."""
    return (name.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO"))
            or name.endswith(".egg-info"))  # an egg-info may be a single file


def is_dpkg_status(name: str) -> bool:
    return name == DPKG_STATUS or (name.startswith(DPKG_STATUS_D) and "/" not in
                                   name[len(DPKG_STATUS_D):] and not name.endswith(".md5sums"))


def is_copyright(name: str) -> bool:
    """usr/share/doc/<package>/copyright (the folder may be a link to another package's)."""
    parts = name.split("/")
    return len(parts) == 5 and parts[:3] == ["usr", "share", "doc"] and parts[4] == "copyright"


def is_release_file(name: str) -> bool:
    return name in OS_RELEASE or name == DEBIAN_VERSION


def distro(os_release: bytes, debian_version: bytes) -> str:
    """debian-12 from os-release's ID and VERSION_ID, else from debian_version's major number;
    "" when neither says (testing and sid have no number)."""
    fields = dict(line.partition("=")[::2] for line in
                  os_release[:MAX_RELEASE_BYTES].decode("utf-8", "replace").splitlines())
    name, version = (fields.get(k, "").strip().strip("\"'") for k in ("ID", "VERSION_ID"))
    if name and version:
        return printable(f"{name}-{version}", MAX_VALUE)
    major = debian_version[:MAX_RELEASE_BYTES].decode("ascii", "replace").split(".")[0].strip()
    return f"debian-{major}" if major.isdigit() else ""


def _value(raw: bytes) -> str:
    return printable(raw.decode("utf-8", "replace"), MAX_VALUE)


class InventoryBuilder:
    """Collects an inventory while the export streams past, within the caps above."""

    def __init__(self) -> None:
        self.packages: list[DebPackage] = []
        self.distributions: list[PythonDist] = []
        self.java: list[JavaArchive] = []
        self.incomplete: list[str] = []
        self.unread: list[str] = []
        self.copyrights: dict[str, tuple[str, ...]] = {}  # member name -> licences
        self.release_files: dict[str, bytes] = {}  # member name -> its head
        self._status_bytes = 0

    def add_status(self, handle: IO[bytes]) -> None:
        """Read a dpkg status file line by line (never whole), keeping five fields a stanza."""
        stanza: dict[bytes, bytes] = {}
        for line in self._lines(handle):
            if not line.strip():
                self._add_package(stanza)
                stanza = {}
            elif line[:1] not in (b" ", b"\t"):
                key, colon, value = line.partition(b":")
                if colon and key.lower() in _KEPT_FIELDS:
                    stanza[key.lower()] = value.strip()
        self._add_package(stanza)

    def _lines(self, handle: IO[bytes]) -> Iterable[bytes]:
        while line := handle.readline(MAX_LINE_BYTES):
            self._status_bytes += len(line)
            if self._status_bytes > MAX_STATUS_BYTES:
                self._note(f"dpkg status beyond {MAX_STATUS_BYTES >> 20} MiB not read")
                return
            yield line

    def _add_package(self, stanza: dict[bytes, bytes]) -> None:
        name = stanza.get(b"package")
        status = stanza.get(b"status", b"install ok installed").split()
        if not name or not status or status[-1].decode("ascii", "replace") not in _ON_DISK:
            return
        if len(self.packages) >= MAX_PACKAGES:
            self._note(f"more than {MAX_PACKAGES} Debian packages")
            return
        version = _value(stanza.get(b"version", b""))
        source = _SOURCE.fullmatch(_value(stanza.get(b"source", b"")))
        self.packages.append(DebPackage(
            name=_value(name), version=version,
            architecture=_value(stanza.get(b"architecture", b"")),
            source=source.group(1) if source else "",
            source_version=(source.group(2) or "") if source else ""))

    def add_metadata(self, head: bytes, name: str) -> None:
        """A distribution from the first MAX_METADATA_BYTES of its METADATA or PKG-INFO."""
        headers = email.parser.BytesHeaderParser().parsebytes(head[:MAX_METADATA_BYTES])
        dist_name, version = headers.get("Name"), headers.get("Version")
        if not dist_name or not version:
            return
        if len(self.distributions) >= MAX_DISTRIBUTIONS:
            self._note(f"more than {MAX_DISTRIBUTIONS} Python distributions")
            return
        folder = name.rsplit("/", 1)[0] if not name.endswith(".egg-info") else name
        self.distributions.append(PythonDist(name=printable(str(dist_name), MAX_VALUE),
                                             version=printable(str(version), MAX_VALUE),
                                             path=folder))

    def add_copyright(self, head: bytes, name: str) -> None:
        """The licences of a copyright file (its first MAX_COPYRIGHT_BYTES)."""
        if len(self.copyrights) >= MAX_COPYRIGHTS:
            self.note(f"more than {MAX_COPYRIGHTS} copyright files")
            return
        self.copyrights[name] = dep5_licences(head[:MAX_COPYRIGHT_BYTES])

    def add_release_file(self, head: bytes, name: str) -> None:
        self.release_files[name] = head[:MAX_RELEASE_BYTES]

    def add_java_archive(self, data: bytes, name: str) -> None:
        found, notes = read_java_archive(data, name)
        for note in notes:
            self.note(note)
        if len(self.java) + len(found) > MAX_JAVA:
            self.note(f"more than {MAX_JAVA} Java components")
            found = found[:max(0, MAX_JAVA - len(self.java))]
        self.java += found

    def note(self, problem: str) -> None:
        """What the SBOM leaves out (an archive over its cap): `unread`, not `incomplete`."""
        problem = printable(problem, 400)
        if problem not in self.unread and len(self.unread) < MAX_UNREAD:
            self.unread.append(problem)

    def _note(self, problem: str) -> None:
        if problem not in self.incomplete:
            self.incomplete.append(problem)

    def build(self, listings: Iterable[Listing] = (), incomplete: Iterable[str] = (), *,
              licences: Mapping[str, tuple[str, ...]] | None = None,
              release: str = "") -> Inventory:
        """The inventory; `licences` by package name (the engine follows the copyright files'
        links), `release` the Debian release (see distro())."""
        stated = licences or {}
        packages = (replace(p, licences=stated.get(p.name, ())) for p in self.packages)
        return Inventory(
            packages=tuple(sorted(packages, key=lambda p: (p.name, p.architecture))),
            distributions=tuple(sorted(self.distributions, key=lambda d: (d.key, d.path))),
            java=tuple(sorted(set(self.java), key=lambda j: (j.path, j.group, j.name,
                                                              j.version))),
            distro=release, listings=tuple(listings),
            incomplete=(*self.incomplete, *incomplete), unread=tuple(self.unread))

