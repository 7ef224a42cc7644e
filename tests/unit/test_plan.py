"""make_plan on matrices built in memory: levels, order, tags, manifest lists, build args."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from xbuild.core.errors import ExitCode, NothingToDo, SelectionError
from xbuild.core.imagespec import BuildArgs, ImageSpec
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.plan import Plan, make_plan, manifest_lists, plan_as_dict
from xbuild.core.platforms import Arch, arch_named

WriteMatrix = Callable[..., Path]  # the write_matrix fixture: (doc, **options) -> Path


def arch(name: str) -> Arch:
    found = arch_named(name)
    assert found is not None, name
    return found


AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
ALL = (AMD64, ARM32, ARM64)


def spec(name: str, parent: str | None = None, arches: Sequence[Arch] = ALL,
         args: BuildArgs = (), arch_args: tuple[tuple[str, BuildArgs], ...] = ()) -> ImageSpec:
    context = Path("/ctx") / name
    return ImageSpec(name=name, context=context, dockerfile=context / "Dockerfile", parent=parent,
                     arches=tuple(arches), args=args, arch_args=arch_args)


def matrix(*specs: ImageSpec, namespace: str = "ns", tag: str = "t") -> Matrix:
    """A matrix of `specs`, which must come parents first (as load_matrix orders them)."""
    return Matrix(path=Path("/m/matrix.yml"), namespace=namespace, tag=tag, arches=ALL,
                  images=specs)


# base -> child -> grandchild; lone stands alone with two arches; duo has per-arch args.
FAMILY = matrix(
    spec("base"),
    spec("duo", arches=(AMD64, ARM64), args=(("A", "common"), ("B", "common")),
         arch_args=(("arm64v8", (("B", "arm"), ("C", "only-arm"))),)),
    spec("lone", arches=(AMD64, ARM64)),
    spec("child", parent="base"),
    spec("grandchild", parent="child"),
)


def keys(plan: Plan) -> list[str]:
    return [t.key for t in plan.targets]


@pytest.mark.parametrize(("image", "level"), [
    ("base", 0), ("duo", 0), ("lone", 0), ("child", 1), ("grandchild", 2)])
def test_levels(image: str, level: int) -> None:
    plan = make_plan(FAMILY)
    assert {t.level for t in plan.targets if t.image == image} == {level}


def test_levels_group_the_targets() -> None:
    levels = make_plan(FAMILY).levels()
    assert [sorted({t.image for t in level}) for level in levels] == [
        ["base", "duo", "lone"], ["child"], ["grandchild"]]
    assert [len(level) for level in levels] == [7, 3, 3]


def test_order_is_level_then_image_then_arch() -> None:
    assert keys(make_plan(FAMILY)) == [
        "base-amd64", "base-arm32v7", "base-arm64v8",
        "duo-amd64", "duo-arm64v8",
        "lone-amd64", "lone-arm64v8",
        "child-amd64", "child-arm32v7", "child-arm64v8",
        "grandchild-amd64", "grandchild-arm32v7", "grandchild-arm64v8",
    ]


def test_every_parent_comes_before_its_child() -> None:
    plan = make_plan(FAMILY)
    position = {t.key: i for i, t in enumerate(plan.targets)}
    for target in plan.targets:
        parent = plan.parent_of(target)
        if target.image in ("child", "grandchild"):
            assert parent is not None
            assert position[parent.key] < position[target.key]
            assert parent.arch == target.arch
        else:
            assert parent is None


def test_plan_order_is_level_then_image_then_arch_table_order() -> None:
    assert keys(make_plan(FAMILY)) == [
        "base-amd64", "base-arm32v7", "base-arm64v8", "duo-amd64", "duo-arm64v8",
        "lone-amd64", "lone-arm64v8", "child-amd64", "child-arm32v7", "child-arm64v8",
        "grandchild-amd64", "grandchild-arm32v7", "grandchild-arm64v8"]


def test_plan_does_not_depend_on_file_order(write_matrix: WriteMatrix) -> None:
    images = {"grandchild": {"context": "gc", "from": "child"}, "lone": {"context": "lone"},
              "child": {"context": "c", "from": "base"}, "base": {"context": "b"}}
    forward = {"namespace": "ns", "tag": "t", "architectures": ["amd64", "arm64v8"],
               "images": images}
    backward = dict(forward, images=dict(reversed(images.items())),
                    architectures=["arm64v8", "amd64"])
    one = make_plan(load_matrix(write_matrix(forward, name="forward.yml")))
    two = make_plan(load_matrix(write_matrix(backward, name="backward.yml")))
    assert plan_as_dict(one) == plan_as_dict(two)
    assert keys(one)[:4] == ["base-amd64", "base-arm64v8", "lone-amd64", "lone-arm64v8"]


@pytest.mark.parametrize(("namespace", "tag", "expected"), [
    pytest.param(None, None, "ns/{image}:t-{arch}", id="matrix"),
    pytest.param("127.0.0.1:5000/team", None, "127.0.0.1:5000/team/{image}:t-{arch}",
                 id="namespace"),
    pytest.param(None, "v2", "ns/{image}:v2-{arch}", id="tag"),
    pytest.param("ghcr.io/a/b", "rc1", "ghcr.io/a/b/{image}:rc1-{arch}", id="both"),
])
def test_tags(namespace: str | None, tag: str | None, expected: str) -> None:
    plan = make_plan(FAMILY, namespace=namespace, tag=tag)
    for target in plan.targets:
        assert str(target.ref) == expected.format(image=target.image, arch=target.arch.name)
    for manifest in plan.manifests:
        assert str(manifest.ref) == expected.format(image=manifest.image, arch="X")[:-2]


@pytest.mark.parametrize(("image", "arches"), [
    ("base", ("amd64", "arm32v7", "arm64v8")), ("duo", ("amd64", "arm64v8")),
    ("lone", ("amd64", "arm64v8")), ("grandchild", ("amd64", "arm32v7", "arm64v8"))])
def test_manifest_entries_are_exactly_the_image_arches(image: str,
                                                       arches: tuple[str, ...]) -> None:
    plan = make_plan(FAMILY)
    (manifest,) = [m for m in plan.manifests if m.image == image]
    assert str(manifest.ref) == f"ns/{image}:t"
    assert tuple(a.name for a, _ in manifest.entries) == arches
    assert [ref for _, ref in manifest.entries] == [
        t.ref for t in plan.targets if t.image == image]


def test_one_manifest_list_per_image_in_plan_order() -> None:
    plan = make_plan(FAMILY)
    assert [m.image for m in plan.manifests] == ["base", "duo", "lone", "child", "grandchild"]
    assert plan.lists_deferred == ()


@pytest.mark.parametrize(("target_arch", "expected"), [
    pytest.param(AMD64, {"A": "common", "B": "common"}, id="amd64-common"),
    pytest.param(ARM64, {"A": "common", "B": "arm", "C": "only-arm"}, id="arm64-override"),
])
def test_build_args_merge_arch_over_common(target_arch: Arch, expected: dict[str, str]) -> None:
    target = make_plan(FAMILY).target(f"duo-{target_arch.name}")
    assert dict(target.build_args) == expected
    assert list(target.build_args) == sorted(target.build_args)


def test_plan_as_dict_round_trips_through_json() -> None:
    data = plan_as_dict(make_plan(FAMILY, namespace="127.0.0.1:5000/x", tag="t1"))
    assert json.loads(json.dumps(data)) == data
    duo_arm = next(t for t in data["targets"] if t["image"] == "duo" and t["arch"] == "arm64v8")
    assert duo_arm == {
        "image": "duo", "arch": "arm64v8", "platform": "linux/arm64/v8",
        "tag": "127.0.0.1:5000/x/duo:t1-arm64v8", "level": 0, "parent": None,
        "parent_name": None, "parent_published": None, "context": "/ctx/duo",
        "dockerfile": "/ctx/duo/Dockerfile",
        "build_args": {"A": "common", "B": "arm", "C": "only-arm"},
    }


def test_plan_as_dict_child_names_its_parent() -> None:
    data: dict[str, Any] = plan_as_dict(make_plan(FAMILY, namespace="other", tag="x"))
    child = next(t for t in data["targets"] if t["image"] == "child" and t["arch"] == "amd64")
    assert child["parent"] == "base"
    assert child["parent_name"] == "ns/base:t"  # as the Dockerfile says, whatever --namespace
    assert child["parent_published"] is None


def test_selecting_a_grandchild_brings_its_ancestors() -> None:
    plan = make_plan(FAMILY, images=["grandchild"])
    assert plan.images == ("base", "child", "grandchild")


def test_published_parents() -> None:
    plan = make_plan(FAMILY, images=["grandchild"], build_parents=False, tag="v1")
    assert plan.images == ("grandchild",)
    for target in plan.targets:
        assert (target.level, target.parent) == (0, None)
        assert str(target.parent_published) == f"ns/child:v1-{target.arch.name}"
        assert str(target.parent_name) == "ns/child:t"
    assert [m.image for m in plan.manifests] == ["grandchild"]


def test_published_parents_with_the_parent_selected_builds_it() -> None:
    plan = make_plan(FAMILY, images=["child", "base"], build_parents=False)
    assert plan.target("child-amd64").parent == "base"
    assert plan.target("child-amd64").parent_published is None


def test_arch_subset_defers_lists_of_images_it_cuts() -> None:
    plan = make_plan(FAMILY, arches=[AMD64, ARM64])
    assert {t.arch for t in plan.targets} == {AMD64, ARM64}
    assert [m.image for m in plan.manifests] == ["duo", "lone"]
    assert plan.lists_deferred == ("base", "child", "grandchild")


def test_arch_no_image_has_is_nothing_to_do() -> None:
    with pytest.raises(NothingToDo, match="arm32v7") as caught:
        make_plan(FAMILY, images=["duo"], arches=[ARM32])
    assert caught.value.exit_code == ExitCode.NOTHING_TO_DO


def test_unknown_image_suggests() -> None:
    with pytest.raises(SelectionError, match=r"no image 'grandchil' \(did you mean 'grandchild'"):
        make_plan(FAMILY, images=["grandchil"])


@pytest.mark.parametrize(("namespace", "tag", "match"), [
    pytest.param("UPPER", None, "--namespace 'UPPER'", id="namespace-uppercase"),
    pytest.param("", None, "--namespace ''", id="namespace-empty"),
    pytest.param(None, "-bad", "--tag '-bad'", id="tag-leading-dash"),
    pytest.param(None, "a" * 129, "--tag", id="tag-129"),
    pytest.param(None, "a" * 125, "--tag", id="tag-too-long-with-arch"),
])
def test_bad_overrides(namespace: str | None, tag: str | None, match: str) -> None:
    with pytest.raises(SelectionError, match=match):
        make_plan(FAMILY, namespace=namespace, tag=tag)


def test_manifest_lists_take_parents_as_published() -> None:
    lists = manifest_lists(FAMILY, images=["grandchild"], tag="v1")
    assert [(m.image, str(m.ref)) for m in lists] == [("grandchild", "ns/grandchild:v1")]
