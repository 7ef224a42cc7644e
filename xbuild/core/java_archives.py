"""What a Java archive (jar, war, ear) says it is: each `META-INF/maven/**/pom.properties`
(groupId, artifactId, version), else its `META-INF/MANIFEST.MF` (Bundle-SymbolicName and
Bundle-Version, or Implementation-Title and Implementation-Version). Archives nested one level
down (a war's WEB-INF/lib/*.jar, an ear's lib/*.jar) are read too; deeper ones are not.

Pure: the engine hands over one archive's bytes at a time, at most MAX_ARCHIVE_BYTES; a zip
needs random access, so it cannot be read while the export streams past. The archive is
hostile: entries read, bytes read and records kept are capped, and a broken zip says nothing.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from xbuild.core.text import printable

MAX_ARCHIVE_BYTES = 64 << 20  # an archive larger than this is skipped, and the skip noted
# An archive inside one is held beside it: at most 64 + 16 MiB at once.
MAX_NESTED_BYTES = 16 << 20
MAX_ENTRIES = 20_000  # entries of one archive looked at
MAX_NESTED = 500  # archives inside one archive read
MAX_META_BYTES = 64 << 10  # of each pom.properties or MANIFEST.MF
MAX_POMS = 200  # pom.properties kept of one archive (a shaded jar bundles many)
ARCHIVE_SUFFIXES = (".jar", ".war", ".ear")
MAX_VALUE = 200
_MANIFEST = "META-INF/MANIFEST.MF"
_TITLES = (("Bundle-SymbolicName", "Bundle-Version"),
           ("Implementation-Title", "Implementation-Version"))


@dataclass(frozen=True, slots=True, kw_only=True)
class JavaArchive:
    """One component a Java archive names. Maven coordinates when a pom.properties gives them;
    otherwise `name` from the manifest and `group` ""."""

    path: str  # in the image, no leading /; "app.ear!/lib/x.jar" inside another archive
    group: str = ""
    name: str = ""  # artifactId, or the manifest's title
    version: str = ""


def is_java_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def read_java_archive(data: bytes, path: str, *, nested: bool = True
                      ) -> tuple[list[JavaArchive], list[str]]:
    """The components the archive `data` (found at `path`) names, and what a cap cut short."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return [], []
    notes = [f"{path}: more than {MAX_ENTRIES} entries"] if len(infos) > MAX_ENTRIES else []
    infos = infos[:MAX_ENTRIES]
    found = [JavaArchive(path=path, **_pom(_read(archive, i))) for i in infos
             if i.filename.startswith("META-INF/maven/")
             and i.filename.endswith("/pom.properties")][:MAX_POMS]
    found = [f for f in found if f.name]
    if not found:
        manifest = next((i for i in infos if i.filename == _MANIFEST), None)
        title = _manifest(_read(archive, manifest)) if manifest else {}
        if title:
            found.append(JavaArchive(path=path, **title))
    if nested:
        inner = [i for i in infos if is_java_archive(i.filename) and not i.is_dir()]
        if len(inner) > MAX_NESTED:
            notes.append(f"{path}: more than {MAX_NESTED} archives inside")
        for info in inner[:MAX_NESTED]:
            records, more = _nested(archive, info, f"{path}!/{info.filename}")
            found += records
            notes += more
    return found, notes


def _nested(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str
            ) -> tuple[list[JavaArchive], list[str]]:
    shown = printable(path, 400)
    if info.file_size > MAX_NESTED_BYTES:
        return [], [f"{shown}: larger than {MAX_NESTED_BYTES >> 20} MiB, not read"]
    data = _read(archive, info, MAX_NESTED_BYTES)
    return read_java_archive(data, shown, nested=False)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = MAX_META_BYTES
          ) -> bytes:
    try:
        with archive.open(info) as handle:
            return handle.read(limit)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError):  # RuntimeError: an encrypted entry
        return b""


def _value(text: str) -> str:
    return printable(text.strip(), MAX_VALUE)


def _pom(data: bytes) -> dict[str, str]:
    """groupId, artifactId and version of a pom.properties (a Java properties file)."""
    keys = {"groupId": "group", "artifactId": "name", "version": "version"}
    found = dict.fromkeys(keys.values(), "")
    for line in data.decode("latin-1").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in keys:
            found[keys[key.strip()]] = _value(value)
    return found


def _manifest(data: bytes) -> dict[str, str]:
    """The name and version of a MANIFEST.MF's main section, or {} when it names none."""
    headers: dict[str, str] = {}
    last = ""
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break  # the main section ends at the first blank line
        if line.startswith(" ") and last:
            headers[last] += line[1:]  # a continuation line (72-byte lines)
        else:
            last, _, value = line.partition(":")
            headers[last] = value.strip()
    for title, version in _TITLES:
        if headers.get(title):
            name = headers[title].split(";", 1)[0]  # Bundle-SymbolicName: x;singleton:=true
            return {"name": _value(name), "version": _value(headers.get(version, ""))}
    return {}
