"""What verify's one pass over an export finds: dpkg's packages, Python distributions, the
entries under declared folders, and the caps that keep a hostile image from eating memory."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.fakes import write_tar
from xbuild.core import inventory
from xbuild.core.errors import CommandFailed
from xbuild.core.inventory import DebPackage, InventoryBuilder, Listing, PythonDist
from xbuild.engine import rootfs
from xbuild.engine.rootfs import read_rootfs

STATUS = b"""\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: arm64
Multi-Arch: same
Source: glibc (2.36-9+deb12u7)
Version: 2.36-9+deb12u7
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: orthanc
Status: install ok installed
Architecture: arm64
Source: orthanc
Version: 1.10.1+dfsg-2+b1

Package: removed-one
Status: deinstall ok config-files
Architecture: arm64
Version: 1.0

Package: base-files
Status: install ok installed
Architecture: arm64
Version: 12.4+deb12u7
"""


def built(status: bytes = b"", metadata: dict[str, bytes] | None = None
          ) -> inventory.Inventory:
    found = InventoryBuilder()
    found.add_status(io.BytesIO(status))
    for name, head in (metadata or {}).items():
        found.add_metadata(head, name)
    return found.build()


def test_dpkg_status_gives_name_version_arch_and_source_of_what_is_on_disk() -> None:
    assert built(status=STATUS).packages == (
        DebPackage(name="base-files", version="12.4+deb12u7", architecture="arm64"),
        DebPackage(name="libc6", version="2.36-9+deb12u7", architecture="arm64",
                   source="glibc", source_version="2.36-9+deb12u7"),
        DebPackage(name="orthanc", version="1.10.1+dfsg-2+b1", architecture="arm64",
                   source="orthanc"),
    )  # removed-one keeps only its configuration files: not installed


def test_a_status_file_beyond_its_cap_is_read_no_further_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "MAX_STATUS_BYTES", 200)
    found = built(status=STATUS)
    assert [p.name for p in found.packages] == ["libc6"]  # the first stanza, cut short
    assert found.incomplete == ("dpkg status beyond 0 MiB not read",)


def test_one_endless_line_is_read_in_pieces_and_the_cap_still_holds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "MAX_STATUS_BYTES", 1 << 20)
    status = io.BytesIO(b"Package: a\nVersion: " + b"9" * (4 << 20) + b"\n\n")
    found = InventoryBuilder()
    tracemalloc.start()
    found.add_status(status)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    read = found.build()
    assert read.incomplete == ("dpkg status beyond 1 MiB not read",)
    assert [(p.name, len(p.version)) for p in read.packages] == [("a", 200)]
    assert peak < 8 * inventory.MAX_LINE_BYTES  # a few line pieces at a time: not 4 MiB


def test_more_packages_than_the_cap_are_counted_as_incomplete(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "MAX_PACKAGES", 2)
    found = built(status=STATUS)
    assert [p.name for p in found.packages] == ["libc6", "orthanc"]
    assert found.incomplete == ("more than 2 Debian packages",)


def test_python_metadata_from_dist_info_egg_info_folders_and_egg_info_files() -> None:
    found = built(metadata={
        "usr/lib/python3/dist-packages/NumPy-1.24.2.dist-info/METADATA":
            b"Metadata-Version: 2.1\nName: NumPy\nVersion: 1.24.2\n\nlong text\n",
        "usr/lib/python3/dist-packages/pydicom-2.3.1.egg-info/PKG-INFO":
            b"Metadata-Version: 1.2\nName: pydicom\nVersion: 2.3.1\n",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info":
            b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
        "opt/venv/x-1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: nameless\n",
    })
    assert found.distributions == (
        PythonDist(name="NumPy", version="1.24.2",
                   path="usr/lib/python3/dist-packages/NumPy-1.24.2.dist-info"),
        PythonDist(name="pydicom", version="2.3.1",
                   path="usr/lib/python3/dist-packages/pydicom-2.3.1.egg-info"),
        PythonDist(name="six", version="1.16.0",
                   path="usr/lib/python3/dist-packages/six-1.16.0.egg-info"),
    )  # one without a Version is no distribution
    assert [d.key for d in found.distributions] == ["numpy", "pydicom", "six"]


def test_names_from_an_image_are_stripped_of_control_characters() -> None:
    found = built(status=b"Package: evil\nVersion: 1\x1b[31m\x07\nArchitecture: all\n")
    assert found.packages[0].version == "1 [31m"


# --- one pass over an export -----------------------------------------------------------


def tar_of(path: Path, members: dict[str, bytes | str | None]) -> Path:
    return write_tar(path, members, mode=0o644)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return tar_of(tmp_path / "rootfs.tar", {
        "lib": "usr/lib", "usr": None, "usr/lib": None, "usr/lib/plugins": None,
        "usr/lib/plugins/a.so": b"\x7fELF", "usr/lib/plugins/sub": None,
        "usr/lib/plugins/sub/b.so": b"\x7fELF", "usr/lib/plugins/.hidden": b"",
        "var/lib/dpkg/status": STATUS, "var/lib/dpkg/status-old": STATUS,
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info":
            b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
        "etc/plugins": b"a file, not a folder"})


def test_one_pass_reads_packages_distributions_and_the_declared_folders(image: Path) -> None:
    found = read_rootfs(image, []).inventory(["/lib/plugins", "/opt/absent", "/etc/plugins"])
    assert [p.name for p in found.packages] == ["base-files", "libc6", "orthanc"]
    assert [d.name for d in found.distributions] == ["six"]
    assert found.listings == (
        Listing(folder="/lib/plugins", entries=(".hidden", "a.so", "sub", "sub/b.so")),
        Listing(folder="/opt/absent", entries=None),
        Listing(folder="/etc/plugins", entries=None))
    assert found.incomplete == ()


def test_listings_beyond_their_cap_make_the_inventory_incomplete(
        image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs, "MAX_LISTED", 3)
    found = read_rootfs(image, []).inventory(["/usr/lib/plugins"])
    assert found.incomplete == ("more than 3 entries under /usr/lib/plugins",)


def many(count: int) -> Iterator[str]:
    return (f"f{n}" for n in range(count))


def test_an_export_with_more_members_than_the_cap_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs, "MAX_MEMBERS", 100)
    archive = tar_of(tmp_path / "many.tar", dict.fromkeys(many(101), b""))
    with pytest.raises(CommandFailed, match="more than 100 files or 64 MiB of names"):
        read_rootfs(archive, [])
    assert read_rootfs(tar_of(tmp_path / "ok.tar", dict.fromkeys(many(100), b"")), [])


def test_an_export_with_long_names_beyond_the_cap_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs, "MAX_NAME_BYTES", 1000)
    archive = tar_of(tmp_path / "long.tar", {f"{'d' * 200}/{n}": b"" for n in range(5)})
    with pytest.raises(CommandFailed, match="of names: not read"):
        read_rootfs(archive, [])


def test_the_pass_keeps_about_140_bytes_a_member_not_tarfiles_headers(tmp_path: Path) -> None:
    """tarfile alone would keep every header it read (about 400 bytes each): 2.6 MiB here."""
    archive = tar_of(tmp_path / "big.tar",
                     dict.fromkeys((f"usr/share/app/file-{n:04}" for n in range(5_000)), b""))
    tracemalloc.start()
    fs = read_rootfs(archive, [])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(fs.members) == 5_000
    assert peak < 3 << 19  # 0.7 MiB measured
