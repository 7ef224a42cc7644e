"""The merge step over a fake registry: stale or foreign arches are named and withheld; build
records publish exactly their digests; records that disagree are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakes import FakeDocker, FakeRegistry, fake_tools
from xbuild.core import record
from xbuild.core.answers import Published
from xbuild.core.buildspec import IDENTITY_LABEL
from xbuild.core.errors import ConfigError
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.plan import make_plan
from xbuild.core.results import ListStatus
from xbuild.output.console import Console
from xbuild.pipeline.manifest import manifest
from xbuild.pipeline.resolve import resolve

NS = "127.0.0.1:5000/ns"
ARCHES = ("amd64", "arm64v8")
DIGESTS = {a: f"sha256:{n * 64}" for a, n in zip(ARCHES, "ab", strict=True)}
LIST = f"{NS}/orthanc:latest"


@pytest.fixture
def matrix(write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> Matrix:
    matrix_doc["architectures"] = list(ARCHES)
    matrix_doc["images"] = {"orthanc": {"context": "images/orthanc"}}
    return load_matrix(write_matrix(matrix_doc, dockerfiles={"orthanc": "FROM scratch\n"}))


def identities(matrix: Matrix) -> dict[str, str]:
    plan = make_plan(matrix, namespace=NS, build_parents=False)
    found = resolve(matrix, plan, None, push=False).identities
    assert all(found.values())
    return {key.rsplit("-", 1)[1]: str(value) for key, value in found.items()}


def published(matrix: Matrix, *, stale: str = "", missing: str = "") -> FakeRegistry:
    mine = identities(matrix)
    tags = {f"{NS}/orthanc:latest-{a}": Published(
        digest=DIGESTS[a], labels={IDENTITY_LABEL: "sha256:" + "0" * 64 if a == stale else mine[a]})
        for a in ARCHES if a != missing}
    return FakeRegistry(tags)


def merge(matrix: Matrix, registry: FakeRegistry, docker: FakeDocker, **options: Any
          ) -> list[Any]:
    kit = fake_tools(docker, registry=registry)
    return manifest(matrix, images=(), namespace=NS, tag=None, dry_run=False, console=Console(),
                    kit=kit, **{"allow_partial": False, **options})


def test_fresh_arches_are_listed_by_digest(matrix: Matrix) -> None:
    docker = FakeDocker()
    (result,) = merge(matrix, published(matrix), docker)
    assert result.status is ListStatus.PUBLISHED
    (call,) = docker.lists
    assert call.sources == tuple(f"{NS}/orthanc@{DIGESTS[a]}" for a in ARCHES)
    assert docker.moved == []  # the per-arch tags name these digests already


def test_a_staged_arch_is_not_published_without_the_record_that_verified_it(
        matrix: Matrix) -> None:
    registry = published(matrix, missing="arm64v8")
    registry.tags[f"{NS}/orthanc:staging-latest-arm64v8"] = Published(
        digest="sha256:" + "9" * 64, labels={IDENTITY_LABEL: identities(matrix)["arm64v8"]})
    docker = FakeDocker()
    (result,) = merge(matrix, registry, docker)
    assert result.status is ListStatus.WITHHELD
    assert result.detail == ("not published: no arm64v8 (staged, but nothing here says it passed "
                             "verification: publish it with --from the build record of its "
                             "run); no tag moved")
    assert (docker.moved, docker.lists) == ([], [])


def test_a_stale_arch_is_named_and_the_list_withheld(matrix: Matrix) -> None:
    docker = FakeDocker()
    (result,) = merge(matrix, published(matrix, stale="arm64v8"), docker)
    assert result.status is ListStatus.WITHHELD
    assert result.detail == ("not published: no arm64v8 (stale: its image was not built from "
                             "this checkout's sources); no tag moved")
    assert docker.lists == []


def test_allow_partial_lists_the_fresh_arches_and_says_so(matrix: Matrix) -> None:
    docker = FakeDocker()
    (result,) = merge(matrix, published(matrix, missing="arm64v8"), docker, allow_partial=True)
    assert result.status is ListStatus.PARTIAL
    assert "without arm64v8 (not published)" in result.detail
    assert docker.lists[0].sources == (f"{NS}/orthanc@{DIGESTS['amd64']}",)


def test_a_list_that_already_holds_exactly_these_images_is_not_pushed(matrix: Matrix) -> None:
    registry = published(matrix)
    registry.tags[LIST] = Published(digest="sha256:" + "c" * 64,
                                    entries=frozenset(DIGESTS.values()))
    docker = FakeDocker()
    (result,) = merge(matrix, registry, docker)
    assert (result.status, docker.lists) == (ListStatus.UP_TO_DATE, [])


def write_record(path: Path, matrix: Matrix, digests: dict[str, str],
                 identity: dict[str, str] | None = None) -> Path:
    mine = identity or identities(matrix)
    path.write_text(json.dumps({"version": 1, "namespace": NS, "tag": "latest", "targets": [
        {"target": f"orthanc-{a}", "image": "orthanc", "arch": a,
         "ref": f"{NS}/orthanc:latest-{a}", "identity": mine[a], "digest": d, "status": "pushed"}
        for a, d in digests.items()]}))
    return path


def test_from_records_publishes_exactly_the_recorded_digests(matrix: Matrix,
                                                             tmp_path: Path) -> None:
    other = {"amd64": "sha256:" + "d" * 64, "arm64v8": "sha256:" + "e" * 64}
    records = [write_record(tmp_path / "amd64.json", matrix, {"amd64": other["amd64"]}),
               write_record(tmp_path / "arm64.json", matrix, {"arm64v8": other["arm64v8"]})]
    docker = FakeDocker()
    # the registry's tags hold other digests (a later run's): the records win
    (result,) = merge(matrix, published(matrix), docker, records=records)
    assert result.status is ListStatus.PUBLISHED
    assert docker.lists[0].sources == tuple(f"{NS}/orthanc@{other[a]}" for a in ARCHES)
    # each per-arch tag was moved to the staged digest its record names, before the list
    assert docker.moved == [(f"{NS}/orthanc:latest-{a}", other[a]) for a in ARCHES]


def test_records_missing_an_arch_withhold_the_list(matrix: Matrix, tmp_path: Path) -> None:
    records = [write_record(tmp_path / "r.json", matrix, {"amd64": DIGESTS["amd64"]})]
    docker = FakeDocker()
    (result,) = merge(matrix, published(matrix), docker, records=records)
    assert result.detail == "not published: no arm64v8 (not in the build records); no tag moved"
    assert docker.moved == []


def test_records_that_disagree_are_refused(matrix: Matrix, tmp_path: Path) -> None:
    one = write_record(tmp_path / "one.json", matrix, {"amd64": DIGESTS["amd64"]})
    two = write_record(tmp_path / "two.json", matrix, {"amd64": "sha256:" + "f" * 64})
    with pytest.raises(ConfigError, match=r"orthanc-amd64: .*one\.json and .*two\.json disagree"):
        merge(matrix, published(matrix), FakeDocker(), records=[one, two])


def test_a_record_of_another_checkout_is_not_published(matrix: Matrix, tmp_path: Path) -> None:
    foreign = {a: "sha256:" + "9" * 64 for a in ARCHES}
    records = [write_record(tmp_path / "r.json", matrix, DIGESTS, identity=foreign)]
    (result,) = merge(matrix, published(matrix), FakeDocker(), records=records)
    assert result.status is ListStatus.WITHHELD
    assert "its record's identity is not this checkout's" in result.detail


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("not json", "not a build record (not JSON)", id="not-json"),
    pytest.param('{"version": 2, "targets": []}', "not a build record of version 1",
                 id="other-version"),
    pytest.param('{"version": 1, "namespace": "x", "tag": "t", "targets": [{"target": 1}]}',
                 "targets[0]: needs target, image, arch, ref, identity, digest", id="bad-entry"),
    pytest.param('{"version": 1, "namespace": "x", "tag": "t", "targets": [{"target": "a", '
                 '"image": "a", "arch": "amd64", "ref": "x/a:t-amd64", "identity": "nope", '
                 '"digest": "sha256:' + "a" * 64 + '"}]}', "identity: 'nope' is not a sha256",
                 id="bad-digest"),
])
def test_a_bad_record_gets_one_line_naming_the_file(tmp_path: Path, text: str,
                                                    message: str) -> None:
    path = tmp_path / "record.json"
    with pytest.raises(ConfigError) as caught:
        record.parse(path, text)
    assert str(caught.value).startswith(f"{path}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_record_for_another_namespace_is_refused(matrix: Matrix, tmp_path: Path) -> None:
    path = write_record(tmp_path / "r.json", matrix, DIGESTS)
    with pytest.raises(ConfigError, match="pass --namespace/--tag"):
        manifest(matrix, images=(), namespace="elsewhere", tag=None, allow_partial=False,
                 dry_run=False, console=Console(), records=[path],
                 kit=fake_tools())
