"""The SBOM: what the export pass reads (licences, Java archives, the Debian release), the
CycloneDX document made of it, `xbuild sbom --package`'s line, and the check of an SBOM from
elsewhere against dpkg."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.unit.fakes import write_tar
from xbuild.core import java_archives
from xbuild.core.inventory import DebPackage, Inventory, distro
from xbuild.core.licences import dep5_licences
from xbuild.core.platforms import Platform, arch_named
from xbuild.core.sbom import SbomSubject, make_sbom, sbom_differences
from xbuild.engine import rootfs
from xbuild.engine.rootfs import read_rootfs
from xbuild.pipeline.bill_of_materials import find_package, one_line

DEP5 = b"https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
OPENSSL_COPYRIGHT = (b"Format: " + DEP5 + b"\nUpstream-Name: OpenSSL\n\nFiles: *\n"
                     b"Copyright: 1995 The OpenSSL Project\nLicense: Apache-2.0\n\n"
                     b"Files: crypto/ec/*\nLicense: BSD-3-clause or GPL-2+\n\n"
                     b"License: Apache-2.0\n Licensed under the Apache License...\n")
STATUS = b"""Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.15-1~deb12u1

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.15-1~deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1
"""


def jar(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


POM = b"#Generated\ngroupId=org.dcm4che\nartifactId=dcm4che-core\nversion=5.31.0\n"
INNER = jar({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nBundle-SymbolicName: org.x.inn"
                                     b"\n er;singleton:=true\nBundle-Version: 2.1\n"})
WAR = jar({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
           "WEB-INF/lib/inner.jar": INNER,
           "WEB-INF/lib/deep.war": jar({"lib/deeper.jar": jar({"META-INF/maven/a/b/pom."
                                                               "properties": POM})})})
IMAGE = {
    "etc/": None, "usr/": None, "usr/lib/": None, "usr/share/": None, "usr/share/doc/": None,
    "usr/share/doc/openssl/": None, "usr/share/doc/zlib1g/": None,
    "usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\n',
    "etc/os-release": "../usr/lib/os-release", "etc/debian_version": b"bookworm/sid\n",
    "var/lib/dpkg/status": STATUS,
    "usr/share/doc/openssl/copyright": OPENSSL_COPYRIGHT,
    "usr/share/doc/libssl3": "openssl",  # the doc folder a link to another package's
    "usr/share/doc/zlib1g/copyright": b"This is zlib, by Jean-loup Gailly.\nLicense: zlib\n",
    "usr/lib/python3/dist-packages/Py_Dicom-2.4.4.dist-info/METADATA":
        b"Metadata-Version: 2.1\nName: Py_Dicom\nVersion: 2.4.4\n",
    "opt/app/lib/dcm4che-core-5.31.0.jar": jar({
        "META-INF/MANIFEST.MF": b"Implementation-Title: ignored when a pom says\n",
        "META-INF/maven/org.dcm4che/dcm4che-core/pom.properties": POM}),
    "opt/app/deploy/web.war": WAR,
    "opt/app/broken.jar": b"not a zip",
}


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return read_rootfs(write_tar(tmp_path / "rootfs.tar", IMAGE, mode=0o644), []).inventory()


def test_licences_come_from_machine_readable_copyright_files_through_links(
        inventory: Inventory) -> None:
    assert [(p.name, p.licences) for p in inventory.packages] == [
        ("libssl3", ("Apache-2.0", "BSD-3-clause or GPL-2+")),
        ("openssl", ("Apache-2.0", "BSD-3-clause or GPL-2+")),
        ("zlib1g", ()),  # free-form: no licence is stated, even with a "License:" line
    ]


@pytest.mark.parametrize(("head", "expected"), [
    pytest.param(b"Format: http://dep.debian.net/deps/dep5\n\nLicense: MIT\n", ("MIT",),
                 id="dep5-draft-url"),
    pytest.param(b"License: MIT\n", (), id="no-format-line"),
    pytest.param(b"Format: " + DEP5 + b"\nLicense: \x1b[31mGPL\n", ("[31mGPL",),
                 id="escape-stripped"),
])
def test_dep5_licences(head: bytes, expected: tuple[str, ...]) -> None:
    assert dep5_licences(head) == expected


def test_java_archives_give_pom_coordinates_or_the_manifest_one_level_deep(
        inventory: Inventory) -> None:
    assert [(j.path, j.group, j.name, j.version) for j in inventory.java] == [
        ("opt/app/deploy/web.war!/WEB-INF/lib/inner.jar", "", "org.x.inner", "2.1"),
        ("opt/app/lib/dcm4che-core-5.31.0.jar", "org.dcm4che", "dcm4che-core", "5.31.0"),
    ]  # deep.war's own jar (two levels down) is not read; broken.jar says nothing


def test_an_archive_over_the_cap_is_skipped_and_noted(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs, "MAX_ARCHIVE_BYTES", 100)
    tar = write_tar(tmp_path / "rootfs.tar", {"big.jar": jar({"a": bytes(200)})}, mode=0o644)
    found = read_rootfs(tar, []).inventory()
    assert (found.java, found.unread) == ((), ("big.jar: larger than 0 MiB, not read",))
    assert found.incomplete == ()  # parity is whole: it compares no Java archive


def test_an_archive_inside_one_over_its_cap_is_skipped_and_noted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java_archives, "MAX_NESTED_BYTES", 100)
    tar = write_tar(tmp_path / "rootfs.tar", {"app.ear": jar({"lib/x.jar": INNER})}, mode=0o644)
    found = read_rootfs(tar, []).inventory()
    assert (found.java, found.unread) == ((), ("app.ear!/lib/x.jar: larger than 0 MiB, not "
                                               "read",))


def test_the_release_follows_os_release_s_link(inventory: Inventory) -> None:
    assert inventory.distro == "debian-12"  # debian_version says bookworm/sid


@pytest.mark.parametrize(("os_release", "debian_version", "expected"), [
    pytest.param(b"", b"12.8\n", "debian-12", id="debian-version"),
    pytest.param(b"", b"trixie/sid\n", "", id="testing-has-no-number"),
    pytest.param(b"ID=ubuntu\nVERSION_ID=\"24.04\"\n", b"trixie/sid\n", "ubuntu-24.04",
                 id="os-release-first"),
])
def test_distro(os_release: bytes, debian_version: bytes, expected: str) -> None:
    assert distro(os_release, debian_version) == expected


SUBJECT = SbomSubject(name="127.0.0.1:5000/derekmerck/orthanc", digest="sha256:" + "ab" * 32,
                      platform=Platform.parse("linux/amd64"),
                      created=datetime(2026, 11, 8, 20, 20, tzinfo=UTC))


def test_the_sbom_names_each_component_by_its_purl(inventory: Inventory) -> None:
    bom = json.loads(make_sbom(inventory, SUBJECT, tool_version="1.2.3"))
    assert [(c["name"], c.get("purl")) for c in bom["components"]] == [
        ("dcm4che-core", "pkg:maven/org.dcm4che/dcm4che-core@5.31.0"),
        ("Py_Dicom", "pkg:pypi/py-dicom@2.4.4"),
        ("libssl3", "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"
                    "&upstream=openssl"),
        ("openssl", "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"),
        ("org.x.inner", None),
        ("zlib1g", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1%2Bb1?arch=amd64&distro=debian-12"
                   "&upstream=zlib%401:1.2.13.dfsg-1"),
    ]
    openssl = next(c for c in bom["components"] if c["name"] == "openssl")
    assert openssl["licenses"] == [{"license": {"name": "Apache-2.0"}},
                                   {"license": {"name": "BSD-3-clause or GPL-2+"}}]
    assert bom["metadata"]["timestamp"] == "2026-11-08T20:20:00+00:00"
    assert bom["metadata"]["component"]["type"] == "container"
    assert bom["metadata"]["component"]["version"] == SUBJECT.digest
    assert bom["metadata"]["component"]["properties"] == [
        {"name": "xbuild:platform", "value": "linux/amd64"}]
    assert bom["metadata"]["tools"]["components"][0]["name"] == "xbuild"


def test_the_sbom_is_valid_cyclonedx_1_6(inventory: Inventory) -> None:
    document = make_sbom(inventory, SUBJECT, tool_version="1.2.3")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None


def test_the_sbom_is_reproducible_and_its_serial_follows_the_digest(
        inventory: Inventory) -> None:
    first = make_sbom(inventory, SUBJECT, tool_version="1.2.3")
    assert make_sbom(inventory, SUBJECT, tool_version="1.2.3") == first
    other = SbomSubject(name=SUBJECT.name, digest="sha256:" + "cd" * 32,
                        platform=SUBJECT.platform, created=SUBJECT.created)
    serials = {json.loads(make_sbom(inventory, s, tool_version="1"))["serialNumber"]
               for s in (SUBJECT, other)}
    assert len(serials) == 2
    assert json.loads(first)["serialNumber"].startswith("urn:uuid:")


def test_an_sbom_that_matches_dpkg_has_no_differences(inventory: Inventory) -> None:
    document = make_sbom(inventory, SUBJECT, tool_version="1").encode()
    assert sbom_differences(document, inventory) == ()


def test_an_sbom_that_differs_from_dpkg_says_how(inventory: Inventory) -> None:
    other = Inventory(packages=(
        DebPackage(name="openssl", version="3.0.14-1~deb12u2", architecture="amd64"),
        DebPackage(name="libssl3", version="3.0.15-1~deb12u1", architecture="amd64"),
        DebPackage(name="zlib1g", version="1:1.2.13.dfsg-1+b1", architecture="amd64")))
    document = make_sbom(other, SUBJECT, tool_version="1").encode()
    assert sbom_differences(document, inventory) == (
        "only in the SBOM: openssl 3.0.14-1~deb12u2 (amd64)",
        "not in the SBOM: openssl 3.0.15-1~deb12u1 (amd64)",
    )


@pytest.mark.parametrize(("document", "expected"), [
    pytest.param(b"{", "the SBOM is not JSON: Expecting property name enclosed in double "
                       "quotes: line 1 column 2 (char 1)", id="not-json"),
    pytest.param(b'{"components": {}}', "the SBOM has no list of components (or more than "
                                        "the cap)", id="components-not-a-list"),
])
def test_a_hostile_sbom_is_one_difference(document: bytes, expected: str) -> None:
    assert sbom_differences(document, Inventory()) == (expected,)


def test_a_deeply_nested_sbom_is_refused_not_a_crash() -> None:
    (difference,) = sbom_differences(b"[" * 100_000 + b"]" * 100_000, Inventory())
    assert difference.startswith("the SBOM is not JSON: maximum recursion depth exceeded")


def test_a_hostile_sbom_over_the_size_cap_is_not_parsed() -> None:
    document = b" " * ((64 << 20) + 1)
    assert sbom_differences(document, Inventory()) == (
        "the SBOM is larger than 64 MiB: not read",)


def test_one_line_answers_which_version_each_arch_holds(inventory: Inventory) -> None:
    amd64, arm32v7 = arch_named("amd64"), arch_named("arm32v7")
    assert amd64 is not None and arm32v7 is not None
    found = [(amd64, find_package(inventory, "openssl")), (arm32v7, [])]
    assert one_line("openssl", found) == "openssl 3.0.15-1~deb12u1 (amd64), none (arm32v7)"
    assert [(f.kind, f.version) for f in find_package(inventory, "py-dicom")] == [
        ("pypi", "2.4.4")]
