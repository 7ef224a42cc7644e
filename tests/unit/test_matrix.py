"""matrix.yml -> Matrix: the real file, valid variations, and every invalid input refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xbuild.core import dockerfile
from xbuild.core.errors import ExitCode, MatrixError
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.platforms import ARCH_NAMES
from xbuild.core.text import suggest

REPO = Path(__file__).resolve().parents[2]
REAL_MATRIX = REPO / "matrix.yml"
WriteMatrix = Callable[..., Path]  # the write_matrix fixture: (doc, **options) -> Path


def arch_names(matrix: Matrix, image: str) -> tuple[str, ...]:
    return tuple(a.name for a in matrix.image(image).arches)


# --- the real matrix.yml -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Matrix:
    return load_matrix(REAL_MATRIX)


def test_real_matrix_has_the_five_images(real: Matrix) -> None:
    assert sorted(real.names) == ["dcm4chee", "diana", "imagetrove", "orthanc",
                                  "orthanc-plugins"]
    assert (real.namespace, real.tag) == ("derekmerck", "latest")
    assert [a.name for a in real.arches] == ["amd64", "arm32v7", "arm64v8"]


def test_real_matrix_orthanc_plugins_is_built_from_orthanc(real: Matrix) -> None:
    assert real.image("orthanc-plugins").parent == "orthanc"
    assert real.names.index("orthanc") < real.names.index("orthanc-plugins")
    text = real.image("orthanc-plugins").dockerfile.read_text()
    assert "derekmerck/orthanc:latest" in [f.image for f in dockerfile.from_lines(text)]


@pytest.mark.parametrize(("image", "arches"), [
    pytest.param("orthanc", ("amd64", "arm32v7", "arm64v8"), id="orthanc"),
    pytest.param("orthanc-plugins", ("amd64", "arm32v7", "arm64v8"), id="orthanc-plugins"),
    pytest.param("dcm4chee", ("amd64", "arm32v7", "arm64v8"), id="dcm4chee"),
    pytest.param("imagetrove", ("amd64", "arm32v7", "arm64v8"), id="imagetrove"),
    pytest.param("diana", ("amd64", "arm32v7", "arm64v8"), id="diana"),
])
def test_real_matrix_arches(real: Matrix, image: str, arches: tuple[str, ...]) -> None:
    assert arch_names(real, image) == arches


def test_real_matrix_dcm4chee_build_args_differ_per_arch(real: Matrix) -> None:
    dcm4chee = real.image("dcm4chee")
    amd64, arm32, arm64 = (dcm4chee.build_args(a) for a in dcm4chee.arches)
    assert (amd64["NATIVE_JPEG2000"], arm32["NATIVE_JPEG2000"], arm64["NATIVE_JPEG2000"]) == (
        "true", "false", "false")


def test_real_matrix_dcm4chee_downloads_follow_the_arch(real: Matrix) -> None:
    # The native codec library is x86-64 only; each arch gets its own pinned JRE.
    dcm4chee = real.image("dcm4chee")
    assert dcm4chee.downloads is not None
    amd64, arm32, arm64 = (dict(dcm4chee.downloads.for_arch(a)) for a in dcm4chee.arches)
    assert set(amd64) == {"dcm4chee.zip", "jboss.zip", "jre.tar.gz", "libclib_jiio.so"}
    assert set(arm32) == set(arm64) == {"dcm4chee.zip", "jboss.zip", "jre.tar.gz"}
    assert "x64_linux" in amd64["jre.tar.gz"].url and "aarch64" in arm64["jre.tar.gz"].url
    assert "arm_linux" in arm32["jre.tar.gz"].url
    assert len({x["jre.tar.gz"].sha256 for x in (amd64, arm32, arm64)}) == 3
    assert amd64["jre.tar.gz"].pinned_in == "matrix.yml"


# --- every invalid input: a MatrixError `<file>: <key>: <what is wrong>` -----------------


def test_bad_matrix_is_refused_naming_file_and_key(
        bad_matrix: tuple[Path, str, tuple[str, ...]]) -> None:
    path, key, fragments = bad_matrix
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    message = str(caught.value)
    if key.startswith(":"):  # a YAML error: <file>:<line>:<column>: ...
        assert message.startswith(f"{path}{key}"), message
    elif key:
        assert message.startswith(f"{path}: {key}: "), message
    else:
        assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
    assert caught.value.exit_code == ExitCode.CONFIG


def test_unknown_key_message_in_full(write_matrix: WriteMatrix,
                                     matrix_doc: dict[str, Any]) -> None:
    matrix_doc["images"]["orthanc"]["architecures"] = ["amd64"]
    path = write_matrix(matrix_doc)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    assert str(caught.value) == (
        f"{path}: images.orthanc.architecures: unknown key (did you mean 'architectures'?); "
        "known keys: context, dockerfile, from, architectures, args, arch_args, smoke, downloads, "
        "description, secrets, parity")


def test_unknown_arch_lists_every_known_arch(write_matrix: WriteMatrix,
                                             matrix_doc: dict[str, Any]) -> None:
    matrix_doc["architectures"] = ["amd64", "mips"]
    with pytest.raises(MatrixError) as caught:
        load_matrix(write_matrix(matrix_doc))
    assert all(name in str(caught.value) for name in ARCH_NAMES)


def test_cycle_names_both_images(write_matrix: WriteMatrix) -> None:
    doc = {"namespace": "ns", "tag": "t", "images": {
        "a": {"context": "a", "from": "b"}, "b": {"context": "b", "from": "a"},
        "c": {"context": "c"}}}
    with pytest.raises(MatrixError, match=r"dependency cycle: ([ab]) -> ([ab]) -> \1$"):
        load_matrix(write_matrix(doc))


def test_child_asking_arch_parent_lacks_names_both(write_matrix: WriteMatrix,
                                                   matrix_doc: dict[str, Any]) -> None:
    matrix_doc["images"]["orthanc"]["architectures"] = ["amd64", "arm64v8"]
    matrix_doc["images"]["orthanc-plugins"]["architectures"] = ["arm32v7", "arm64v8"]
    path = write_matrix(matrix_doc)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    assert str(caught.value) == (
        f"{path}: images.orthanc-plugins.architectures: arm32v7 not built by parent "
        "'orthanc' (it has amd64, arm64v8)")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yml"
    with pytest.raises(MatrixError, match="no such file"):
        load_matrix(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match=r"cannot read"):
        load_matrix(tmp_path)


# --- valid variations --------------------------------------------------------------------


@pytest.mark.parametrize("namespace", [
    pytest.param("127.0.0.1:5000/team", id="ip-port"),
    pytest.param("localhost/x", id="localhost"),
    pytest.param("localhost:5000/x", id="localhost-port"),
    pytest.param("ghcr.io/a/b", id="ghcr-two-levels"),
    pytest.param("registry.example.com:443/a/b/c", id="host-port-three-levels"),
    pytest.param("derek-merck", id="dash"),
    pytest.param("team/derek__x.y", id="dot-double-underscore"),
])
def test_valid_namespaces(write_matrix: WriteMatrix, matrix_doc: dict[str, Any],
                          namespace: str) -> None:
    matrix_doc["namespace"] = namespace
    matrix = load_matrix(write_matrix(matrix_doc))
    assert matrix.namespace == namespace
    assert str(matrix.published_name("orthanc")) == f"{namespace}/orthanc:latest"


# 112 = 128 - len("staging-") - len("-") - len("arm64v8"): the longest tag xbuild pushes
@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "1.12_rc-1", "_x", "a" * 112])
def test_valid_tags(write_matrix: WriteMatrix, matrix_doc: dict[str, Any], tag: str) -> None:
    matrix_doc["tag"] = tag
    assert load_matrix(write_matrix(matrix_doc)).tag == tag


def test_a_tag_whose_staging_tag_would_not_fit_is_refused(write_matrix: WriteMatrix,
                                                          matrix_doc: dict[str, Any]) -> None:
    matrix_doc["tag"] = "a" * 113
    with pytest.raises(MatrixError, match=r"tag: .* is too long: staging tags "
                                          r"'staging-<tag>-<arch>' must fit in 128 characters"):
        load_matrix(write_matrix(matrix_doc))


def test_custom_dockerfile(write_matrix: WriteMatrix, matrix_doc: dict[str, Any]) -> None:
    matrix_doc["images"]["orthanc"]["dockerfile"] = "Dockerfile.slim"
    matrix_doc["images"]["orthanc-plugins"]["dockerfile"] = "plugins.Dockerfile"
    path = write_matrix(matrix_doc)
    matrix = load_matrix(path)
    assert matrix.image("orthanc").dockerfile == (
        path.parent / "images/orthanc/Dockerfile.slim").resolve()
    assert matrix.image("orthanc-plugins").dockerfile.name == "plugins.Dockerfile"
    assert not (path.parent / "images/orthanc-plugins/Dockerfile").exists()


def test_context_is_relative_to_the_matrix_file(write_matrix: WriteMatrix,
                                                matrix_doc: dict[str, Any]) -> None:
    path = write_matrix(matrix_doc)
    spec = load_matrix(path).image("orthanc")
    assert spec.context == (path.parent / "images" / "orthanc").resolve()
    assert spec.dockerfile == spec.context / "Dockerfile"


@pytest.mark.parametrize("dockerfile", [
    pytest.param("FROM derekmerck/orthanc:latest\n", id="plain"),
    pytest.param("from derekmerck/orthanc:latest as base\n", id="lowercase-as"),
    pytest.param("FROM --platform=$TARGETPLATFORM derekmerck/orthanc:latest AS base\n",
                 id="platform-flag"),
    pytest.param("FROM golang:1.22 AS build\nRUN true\nFROM derekmerck/orthanc:latest\n",
                 id="second-stage"),
])
def test_child_dockerfile_naming_parent(write_matrix: WriteMatrix, matrix_doc: dict[str, Any],
                                        dockerfile: str) -> None:
    matrix = load_matrix(write_matrix(matrix_doc,
                                      dockerfiles={"orthanc-plugins": dockerfile}))
    assert matrix.image("orthanc-plugins").parent == "orthanc"


def test_child_without_architectures_inherits_parents(write_matrix: WriteMatrix,
                                                      matrix_doc: dict[str, Any]) -> None:
    matrix_doc["images"]["orthanc"]["architectures"] = ["arm64v8", "amd64"]
    matrix_doc["images"]["grandchild"] = {"context": "images/gc", "from": "orthanc-plugins"}
    matrix = load_matrix(write_matrix(matrix_doc))
    assert arch_names(matrix, "orthanc") == ("amd64", "arm64v8")
    assert arch_names(matrix, "orthanc-plugins") == ("amd64", "arm64v8")
    assert arch_names(matrix, "grandchild") == ("amd64", "arm64v8")


def test_root_without_architectures_takes_the_default(write_matrix: WriteMatrix,
                                                      matrix_doc: dict[str, Any]) -> None:
    matrix_doc["architectures"] = ["arm64v8", "riscv64"]
    matrix = load_matrix(write_matrix(matrix_doc))
    assert arch_names(matrix, "orthanc") == ("arm64v8", "riscv64")


def test_default_architectures_is_amd64(write_matrix: WriteMatrix,
                                        matrix_doc: dict[str, Any]) -> None:
    del matrix_doc["architectures"]
    assert arch_names(load_matrix(write_matrix(matrix_doc)), "orthanc") == ("amd64",)


@pytest.mark.parametrize(("listed", "expected"), [
    pytest.param(["arm64v8", "amd64", "arm32v7"], ("amd64", "arm32v7", "arm64v8"),
                 id="table-order"),
    pytest.param(["linux/arm/v7", "linux/amd64"], ("amd64", "arm32v7"), id="platforms"),
    pytest.param(["linux/arm64"], ("arm64v8",), id="arm64-without-variant"),
])
def test_architectures_accept_platforms_and_sort(write_matrix: WriteMatrix,
                                                 matrix_doc: dict[str, Any], listed: list[str],
                                                 expected: tuple[str, ...]) -> None:
    matrix_doc["architectures"] = listed
    assert arch_names(load_matrix(write_matrix(matrix_doc)), "orthanc") == expected


def test_build_args_are_strings_and_arch_args_override(write_matrix: WriteMatrix,
                                                       matrix_doc: dict[str, Any]) -> None:
    matrix_doc["images"]["orthanc"]["args"] = {"N": 3, "ON": True, "V": "1.12", "F": 1.5}
    matrix_doc["images"]["orthanc"]["arch_args"] = {"linux/arm64": {"V": "arm", "X": False},
                                                    "amd64": None}
    spec = load_matrix(write_matrix(matrix_doc)).image("orthanc")
    amd64, arm32, arm64 = spec.arches
    assert spec.build_args(amd64) == {"N": "3", "ON": "true", "V": "1.12", "F": "1.5"}
    assert spec.build_args(arm32) == spec.build_args(amd64)
    assert spec.build_args(arm64) == {"N": "3", "ON": "true", "V": "arm", "F": "1.5",
                                      "X": "false"}


def test_order_is_parents_first_whatever_the_file_order(write_matrix: WriteMatrix) -> None:
    images = {"zeta": {"context": "z", "from": "beta"}, "beta": {"context": "b", "from": "alpha"},
              "alpha": {"context": "a"}, "gamma": {"context": "g"}}
    forward = load_matrix(write_matrix({"namespace": "ns", "tag": "t", "images": images},
                                       name="forward.yml"))
    backward = load_matrix(write_matrix(
        {"namespace": "ns", "tag": "t", "images": dict(reversed(images.items()))},
        name="backward.yml"))
    assert forward.names == backward.names
    assert forward.names.index("alpha") < forward.names.index("beta") < forward.names.index(
        "zeta")


@pytest.mark.parametrize(("word", "expected"), [
    ("architecures", " (did you mean 'architectures'?)"),
    ("zzzzzz", ""),
])
def test_suggest(word: str, expected: str) -> None:
    assert suggest(word, ("namespace", "tag", "architectures", "images")) == expected


def test_signing_key_is_relative_to_the_matrix(write_matrix: WriteMatrix,
                                               matrix_doc: dict[str, Any]) -> None:
    matrix_doc["signing"] = {"key": "keys/cosign.key"}
    path = write_matrix(matrix_doc)
    signing = load_matrix(path).signing
    assert signing.key == path.parent / "keys" / "cosign.key" and not signing.keyless


def test_no_signing_key_signs_nothing(write_matrix: WriteMatrix,
                                      matrix_doc: dict[str, Any]) -> None:
    assert not load_matrix(write_matrix(matrix_doc)).signing.on


@pytest.mark.parametrize(("signing", "where"), [
    ({"key": "k", "keyless": True}, "signing: key or keyless"),
    ({"key": 3}, "signing.key: the cosign private key's path"),
    ({"keyless": "yes"}, "signing.keyless: true or false"),
    ({"password": "x"}, "signing.password: unknown key"),
    ("cosign.key", "signing: must be a mapping"),
])
def test_bad_signing_names_the_key(write_matrix: WriteMatrix, matrix_doc: dict[str, Any],
                                   signing: object, where: str) -> None:
    matrix_doc["signing"] = signing
    path = write_matrix(matrix_doc)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    assert str(caught.value).startswith(f"{path}: {where}")
