"""Parity across arches (core/parity.py): what differs, who is named, what `allow` excuses,
when it cannot be judged; and the `parity` key of matrix.yml."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.unit.fakes import arch
from xbuild.core.checks import ArchReport, Parity, Report, Verdict
from xbuild.core.inventory import DebPackage, Inventory, Listing, PythonDist
from xbuild.core.matrix import load_matrix
from xbuild.core.parity import ParitySpec, judge_parity
from xbuild.core.refs import Reference

PLUGINS = "/usr/share/orthanc/plugins"
DEBIAN = {"amd64": "amd64", "arm32v7": "armhf", "arm64v8": "arm64"}
SO = ("libOrthancDicomWeb.so", "libOrthancGdcm.so")


def inventory(a: str, *, packages: Mapping[str, str] | None = None,
              python: Mapping[str, str] | None = None,
              plugins: tuple[str, ...] | None = SO, incomplete: tuple[str, ...] = ()
              ) -> ArchReport:
    """An arch's report holding `packages` (name: version, dpkg's arch field its own)."""
    found = Inventory(
        packages=tuple(DebPackage(name=n, version=v, architecture=DEBIAN[a])
                       for n, v in (packages or {"libc6": "2.36-9", "orthanc": "1.12.4"}).items()),
        distributions=tuple(PythonDist(name=n, version=v, path=f"usr/lib/python3/{n}.dist-info")
                            for n, v in (python or {"pydicom": "2.4.4"}).items()),
        listings=(Listing(folder=PLUGINS, entries=plugins),), incomplete=incomplete)
    return ArchReport(arch=arch(a), digest="sha256:" + "0" * 64, checks=(), inventory=found)


def judged(*arches: ArchReport, spec: ParitySpec | None = None) -> Parity:
    return judge_parity(spec or ParitySpec(paths=(PLUGINS,)), arches)


def messages(parity: Parity) -> list[str]:
    return parity.lines()


def test_alike_arches_pass_though_dpkg_names_each_arch_differently() -> None:
    parity = judged(inventory("amd64"), inventory("arm32v7"), inventory("arm64v8"))
    assert parity.status is Verdict.PASS
    assert parity.observed == ("3 arches alike: 2 Debian packages, 1 Python distributions, "
                               "3 paths")
    assert parity.arches == ("amd64", "arm32v7", "arm64v8")
    assert messages(parity) == []


def test_a_file_one_arch_lacks_names_the_file_the_arch_and_who_has_it() -> None:
    parity = judged(inventory("amd64"), inventory("arm32v7"),
                    inventory("arm64v8", plugins=("libOrthancGdcm.so",)))
    assert parity.status is Verdict.FAIL
    assert messages(parity) == [
        "arm64v8: lacks /usr/share/orthanc/plugins/libOrthancDicomWeb.so (amd64, arm32v7 "
        "have it)"]
    (difference,) = parity.differences
    assert (difference.arch, difference.kind, difference.observed) == ("arm64v8", "path", "")


def test_a_version_one_arch_differs_in_names_both_versions() -> None:
    parity = judged(inventory("amd64", packages={"libfoo": "1.2-4"}),
                    inventory("arm32v7", packages={"libfoo": "1.2-3"}),
                    inventory("arm64v8", packages={"libfoo": "1.2-4"}))
    assert messages(parity) == ["arm32v7: libfoo 1.2-3 (amd64, arm64v8: 1.2-4)"]


def test_a_debian_rebuild_for_one_arch_is_the_same_package_and_shown_when_it_differs() -> None:
    """bookworm's orthanc-dicomweb is 1.7+dfsg-6+b2 on amd64 and arm64, +b1 on armhf."""
    parity = judged(inventory("amd64", packages={"orthanc-dicomweb": "1.7+dfsg-6+b2"}),
                    inventory("arm32v7", packages={"orthanc-dicomweb": "1.7+dfsg-6+b1"}),
                    inventory("arm64v8", packages={"orthanc-dicomweb": "1.7+dfsg-6+b2"}))
    assert parity.status is Verdict.PASS
    parity = judged(inventory("amd64", packages={"libfoo": "1.2-4"}),
                    inventory("arm32v7", packages={"libfoo": "1.2-3+b1"}),
                    inventory("arm64v8", packages={"libfoo": "1.2-4+b1"}))
    assert messages(parity) == ["arm32v7: libfoo 1.2-3+b1 (amd64, arm64v8: 1.2-4)"]


def test_an_item_allowed_on_every_arch_is_not_compared() -> None:
    spec = ParitySpec(paths=(PLUGINS,), allow=(("amd64", ("libfoo",)), ("arm64v8", ("libfoo",))))
    parity = judged(inventory("amd64", packages={"libfoo": "1"}),
                    inventory("arm64v8", packages={"libfoo": "2"}), spec=spec)
    assert (parity.status, parity.allowed) == (Verdict.PASS, ())


def test_a_package_on_two_arches_only_is_named() -> None:
    both = {"libc6": "2.36-9", "libbar": "2.0"}
    parity = judged(inventory("amd64", packages=both), inventory("arm32v7"),
                    inventory("arm64v8", packages=both))
    assert parity.status is Verdict.FAIL
    assert messages(parity) == ["arm32v7: lacks libbar (amd64, arm64v8: 2.0)",
                                "arm32v7: orthanc 1.12.4 (amd64, arm64v8 lack it)"]


def test_a_python_distribution_is_compared_by_its_normalised_name() -> None:
    parity = judged(inventory("amd64", python={"NumPy": "1.24.2"}),
                    inventory("arm64v8", python={"numpy": "1.24.2"}))
    assert parity.status is Verdict.PASS
    parity = judged(inventory("amd64", python={"numpy": "1.24.2"}),
                    inventory("arm64v8", python={"numpy": "1.26.4"}))
    assert messages(parity) == ["arm64v8: python numpy 1.26.4 (amd64: 1.24.2)"]


def test_with_two_arches_the_one_lacking_is_named() -> None:
    parity = judged(inventory("amd64", plugins=("libOrthancGdcm.so",)), inventory("arm64v8"))
    assert messages(parity) == [
        "amd64: lacks /usr/share/orthanc/plugins/libOrthancDicomWeb.so (arm64v8 has it)"]


def test_a_folder_one_arch_lacks_is_named_once_not_file_by_file() -> None:
    parity = judged(inventory("amd64"), inventory("arm32v7", plugins=None),
                    inventory("arm64v8"))
    assert messages(parity) == ["arm32v7: lacks /usr/share/orthanc/plugins (amd64, arm64v8 "
                                "have it)"]


def test_what_one_arch_alone_has_is_named_against_the_others() -> None:
    parity = judged(inventory("amd64", plugins=(*SO, "libclib_jiio.so")),
                    inventory("arm32v7"), inventory("arm64v8"))
    assert messages(parity) == ["amd64: has /usr/share/orthanc/plugins/libclib_jiio.so "
                                "(arm32v7, arm64v8 lack it)"]


ALLOW_JIIO = ParitySpec(paths=(PLUGINS,), allow=(("amd64", (f"{PLUGINS}/libclib_jiio.so",)),))


def test_what_parity_allow_declares_passes_and_is_still_reported() -> None:
    parity = judged(inventory("amd64", plugins=(*SO, "libclib_jiio.so")),
                    inventory("arm32v7"), inventory("arm64v8"), spec=ALLOW_JIIO)
    assert parity.status is Verdict.PASS
    assert parity.observed.endswith("; 1 allowed")
    assert [str(d) for d in parity.allowed] == [
        "amd64: has /usr/share/orthanc/plugins/libclib_jiio.so (arm32v7, arm64v8 lack it)"]


def test_an_allowance_for_one_arch_excuses_no_other() -> None:
    parity = judged(inventory("amd64", plugins=(*SO, "libclib_jiio.so")),
                    inventory("arm32v7", plugins=(*SO, "libclib_jiio.so")),
                    inventory("arm64v8"), spec=ALLOW_JIIO)
    assert parity.status is Verdict.FAIL
    assert messages(parity) == ["arm64v8: lacks /usr/share/orthanc/plugins/libclib_jiio.so "
                                "(arm32v7 has it)"]


def test_a_package_allowed_by_name_and_a_folder_allowed_with_what_it_holds() -> None:
    spec = ParitySpec(paths=(PLUGINS,), allow=(("arm64v8", ("libfoo", PLUGINS)),))
    parity = judged(inventory("amd64", packages={"libfoo": "1"}),
                    inventory("arm64v8", packages={"libfoo": "2"}, plugins=None), spec=spec)
    assert parity.status is Verdict.PASS
    assert len(parity.allowed) == 2


def test_one_arch_verified_is_not_checked_and_does_not_fail_the_report() -> None:
    amd64 = inventory("amd64")
    parity = judged(amd64)
    assert parity.status is Verdict.NOT_CHECKED
    assert parity.observed == ("not checked: only amd64 verified here, and parity compares "
                               "arches")
    report = Report(ref=Reference.parse("r.example/ns/img:t"), arches=(amd64,), parity=parity)
    assert report.ok
    assert report.as_dict()["parity"]["status"] == "not checked"


def test_an_arch_whose_image_was_not_read_is_left_out() -> None:
    unread = ArchReport(arch=arch("arm32v7"), digest="", checks=())
    assert judged(inventory("amd64"), unread).observed == \
        "not checked: arm32v7 could not be read"
    parity = judged(inventory("amd64"), unread, inventory("arm64v8"))
    assert parity.status is Verdict.PASS
    assert parity.observed.endswith("; arm32v7 not read")


def test_an_inventory_cut_short_by_a_cap_fails_parity() -> None:
    parity = judged(inventory("amd64"),
                    inventory("arm64v8", incomplete=("more than 100000 Debian packages",)))
    assert parity.status is Verdict.FAIL
    assert messages(parity) == ["arm64v8: more than 100000 Debian packages, so it is not "
                                "compared whole"]


def test_a_declared_folder_in_no_image_fails_parity() -> None:
    parity = judged(inventory("amd64", plugins=None), inventory("arm64v8", plugins=None))
    assert messages(parity) == ["/usr/share/orthanc/plugins: in no arch's image (amd64, "
                                "arm64v8)"]


def test_differences_beyond_the_cap_are_counted() -> None:
    many = tuple(f"f{n:04}" for n in range(250))
    parity = judged(inventory("amd64", plugins=many), inventory("arm64v8", plugins=()))
    assert (len(parity.differences), parity.more) == (200, 50)
    assert messages(parity)[-1] == "and 50 more differences"


def test_the_report_json_carries_parity() -> None:
    parity = judged(inventory("amd64"), inventory("arm64v8", plugins=("libOrthancGdcm.so",)))
    report = Report(ref=Reference.parse("r.example/ns/img:t"), arches=(), parity=parity)
    assert report.as_dict()["parity"] == {
        "status": "fail", "observed": "1 difference", "arches": ["amd64", "arm64v8"],
        "problems": [], "more": 0, "allowed": [],
        "differences": [{"arch": "arm64v8", "kind": "path",
                         "item": "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                         "observed": "", "others": ["amd64"], "others_have": "present",
                         "message": "arm64v8: lacks /usr/share/orthanc/plugins/"
                                    "libOrthancDicomWeb.so (amd64 has it)"}]}


# --- matrix.yml ------------------------------------------------------------------------


def test_matrix_parity_is_read_into_the_image(write_matrix: Callable[..., Path],
                                              matrix_doc: dict[str, Any]) -> None:
    matrix_doc["images"]["orthanc"]["parity"] = {
        "paths": ["/usr/share/orthanc/plugins/", "/opt/x"],
        "allow": {"amd64": ["/opt/x/libclib_jiio.so", "libfoo"], "linux/arm64": ["python3-x"]}}
    matrix = load_matrix(write_matrix(matrix_doc))
    assert matrix.image("orthanc").parity == ParitySpec(
        paths=(PLUGINS, "/opt/x"),
        allow=(("amd64", ("/opt/x/libclib_jiio.so", "libfoo")), ("arm64v8", ("python3-x",))))
    assert matrix.image("orthanc-plugins").parity == ParitySpec()


def test_an_allowance_for_an_arch_the_image_is_not_built_for_is_kept_and_never_met(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> None:
    """A matrix narrowed to fewer arches (a test, one node's) keeps the image's declaration."""
    matrix_doc["images"]["orthanc"]["architectures"] = ["amd64", "arm64v8"]
    matrix_doc["images"]["orthanc-plugins"]["architectures"] = ["amd64"]
    matrix_doc["images"]["orthanc"]["parity"] = {"allow": {"arm32v7": ["libfoo"]}}
    matrix = load_matrix(write_matrix(matrix_doc))
    assert matrix.image("orthanc").parity.allow == (("arm32v7", ("libfoo",)),)


def test_what_an_image_names_reaches_no_output_with_control_characters() -> None:
    parity = judged(inventory("amd64", plugins=(*SO, "evil\n::error::x\x1b[31m.so")),
                    inventory("arm64v8"))
    (difference,) = parity.differences
    assert difference.item == f"{PLUGINS}/evil ::error::x [31m.so"
    assert str(difference) == f"arm64v8: lacks {PLUGINS}/evil ::error::x [31m.so (amd64 has it)"


def test_the_gates_refusal_names_the_first_three_differences_and_counts_the_rest() -> None:
    many = tuple(f"f{n}.so" for n in range(5))
    parity = judged(inventory("amd64", plugins=many), inventory("arm64v8", plugins=()))
    report = Report(ref=Reference.parse("r.example/ns/img:t"), arches=(), parity=parity)
    assert report.refusal() == (
        f"not published: verification failed: parity: arm64v8: lacks {PLUGINS}/f0.so (amd64 "
        f"has it); arm64v8: lacks {PLUGINS}/f1.so (amd64 has it); arm64v8: lacks "
        f"{PLUGINS}/f2.so (amd64 has it) and 2 more")
