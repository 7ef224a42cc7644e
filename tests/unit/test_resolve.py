"""What resolve() leaves behind: a read-only Resolution, and identities made once, some only
after the downloads their checksums come from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xbuild.core.identity import Resolution
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.plan import make_plan
from xbuild.core.refs import Reference
from xbuild.pipeline.resolve import resolve, with_downloads

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
URL = "https://example.org/jre.tar.gz"


def with_jre(write_matrix: Callable[..., Path], doc: dict[str, Any],
             sha256: str | None) -> Matrix:
    """orthanc (FROM scratch, needing jre.tar.gz) and its child orthanc-plugins, amd64 only:
    nothing to read from a registry."""
    doc["architectures"] = ["amd64"]
    doc["images"]["orthanc"]["downloads"] = {
        "jre.tar.gz": {"url": URL, **({"sha256": sha256} if sha256 else {})}}
    return load_matrix(write_matrix(doc, dockerfiles={"orthanc": "FROM scratch\n"}))


def test_a_resolution_cannot_be_changed_once_made() -> None:
    given = {"img-amd64": D1}
    resolution = Resolution(up_to_date=given, lists={"ns/img:t": frozenset({D1})})
    given["img-arm64v8"] = D2  # the caller's dict is not the resolution's
    assert dict(resolution.up_to_date) == {"img-amd64": D1}
    with pytest.raises(TypeError):
        resolution.up_to_date["img-arm64v8"] = D2  # type: ignore[index]


def test_a_list_is_unchanged_only_when_it_holds_exactly_these_digests() -> None:
    resolution = Resolution(lists={"ns/img:t": frozenset({D1, D2})})
    assert resolution.list_unchanged(Reference.parse("ns/img:t"), [D2, D1])
    assert not resolution.list_unchanged(Reference.parse("ns/img:t"), [D1])
    assert not resolution.list_unchanged(Reference.parse("ns/new:t"), [])  # not published


def test_an_identity_waiting_for_a_checksum_is_made_when_the_download_is_in(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> None:
    matrix = with_jre(write_matrix, matrix_doc, sha256=None)
    plan = make_plan(matrix)
    before = resolve(matrix, plan, None, push=False)
    assert dict(before.identities) == {"orthanc-amd64": None, "orthanc-plugins-amd64": None}
    after = with_downloads(before, plan, {"orthanc-amd64": {"jre.tar.gz": "e" * 64}})
    assert after.inputs["orthanc-amd64"].downloads == (("jre.tar.gz", "e" * 64),)
    parent = after.identities["orthanc-amd64"]
    assert parent is not None and parent.startswith("sha256:")
    assert after.inputs["orthanc-plugins-amd64"].parent == parent
    assert after.identities["orthanc-plugins-amd64"] is not None
    assert before.identities["orthanc-amd64"] is None  # the first resolution is as it was


def test_an_identity_known_before_the_downloads_is_not_made_again(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> None:
    matrix = with_jre(write_matrix, matrix_doc, sha256="e" * 64)
    plan = make_plan(matrix)
    before = resolve(matrix, plan, None, push=False)
    assert before.identities["orthanc-amd64"] is not None
    # a checksum the downloads report cannot move an identity all of whose inputs were known
    after = with_downloads(before, plan, {"orthanc-amd64": {"jre.tar.gz": "f" * 64}})
    assert dict(after.identities) == dict(before.identities)
    assert after.inputs == before.inputs
