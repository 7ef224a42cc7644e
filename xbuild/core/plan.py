"""The plan: which image x arch to build, in which order, under which tags. Pure: no docker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xbuild.core import refs
from xbuild.core.errors import NothingToDo, SelectionError
from xbuild.core.imagespec import BuildArgs, ImageSpec, Secret
from xbuild.core.matrix import Matrix
from xbuild.core.platforms import ARCHES, Arch, sort_key
from xbuild.core.refs import Reference, per_arch_tag_problem
from xbuild.core.text import suggest


def target_key(image: str, arch: Arch) -> str:
    """How a target is named in logs, records and maps: `orthanc-arm64v8`."""
    return f"{image}-{arch.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    image: str
    arch: Arch
    ref: Reference  # <namespace>/<image>:<tag>-<arch>
    level: int  # 0 for images with no parent in this plan
    context: Path
    dockerfile: Path
    build_args: BuildArgs
    parent: str | None = None  # an in-plan parent, built earlier in this run
    # How the Dockerfile names the parent (matrix namespace and tag)
    parent_name: Reference | None = None
    # The parent's per-arch ref, when taken as published instead of built in this run
    parent_published: Reference | None = None
    description: str | None = ""  # see ImageSpec.description
    secrets: tuple[Secret, ...] = ()  # see ImageSpec.secrets

    @property
    def key(self) -> str:
        return target_key(self.image, self.arch)

    @property
    def parent_key(self) -> str | None:
        return target_key(self.parent, self.arch) if self.parent else None

    @property
    def staging_ref(self) -> Reference:
        """Where a push puts it until its image's release is verified: staging-<tag>-<arch>."""
        return self.ref.staging()

    def __str__(self) -> str:
        return f"{self.image} x {self.arch.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestList:
    image: str
    ref: Reference  # <namespace>/<image>:<tag>
    entries: tuple[tuple[Arch, Reference], ...]  # arch and the per-arch ref it points to

    def target_keys(self) -> tuple[str, ...]:
        return tuple(target_key(self.image, arch) for arch, _ in self.entries)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    namespace: str
    tag: str
    targets: tuple[Target, ...]
    manifests: tuple[ManifestList, ...]
    # --arch left some of an image's arches out: its list waits for `xbuild manifest`.
    lists_deferred: tuple[str, ...] = ()
    _by_key: dict[str, Target] = field(init=False, repr=False, compare=False)
    _children: dict[str, list[Target]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, Target] = {}
        children: dict[str, list[Target]] = {}
        for t in self.targets:
            by_key[t.key] = t
            if t.parent_key:
                children.setdefault(t.parent_key, []).append(t)
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_children", children)

    def target(self, key: str) -> Target:
        return self._by_key[key]

    def children_of(self, target: Target) -> list[Target]:
        """The targets built FROM `target` in this plan."""
        return self._children.get(target.key, [])

    def parent_of(self, target: Target) -> Target | None:
        return self._by_key.get(target.parent_key) if target.parent_key else None

    def levels(self) -> tuple[tuple[Target, ...], ...]:
        depth = max((t.level for t in self.targets), default=-1) + 1
        return tuple(tuple(t for t in self.targets if t.level == n) for n in range(depth))

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.image for t in self.targets))


def make_plan(matrix: Matrix, *, images: Sequence[str] = (), arches: Sequence[Arch] = (),
              namespace: str | None = None, tag: str | None = None,
              build_parents: bool = True) -> Plan:
    """Select image x arch targets from the matrix and order them parents first.

    A selected child brings its in-matrix parents along, unless `build_parents` is False,
    in which case it is built FROM the parent's per-arch tag already published.
    """
    namespace, tag = _overrides(namespace, tag)
    ns, tg = namespace or matrix.namespace, tag or matrix.tag
    chosen = _select_images(matrix, images, build_parents)
    targets = _targets(matrix, chosen, arches, ns, tg)
    if not targets:
        wanted = ", ".join(a.name for a in arches)
        raise NothingToDo(f"no image in the selection is built for {wanted or 'any arch'}")
    manifests, deferred = _manifests(matrix, chosen, targets, ns, tg)
    return Plan(namespace=ns, tag=tg, targets=targets, manifests=manifests,
                lists_deferred=deferred)


def _overrides(namespace: str | None, tag: str | None) -> tuple[str | None, str | None]:
    if namespace is not None and (problem := refs.namespace_problem(namespace)):
        raise SelectionError(f"--namespace {namespace!r}: {problem}")
    if tag is not None and (problem := refs.tag_problem(tag)
                            or per_arch_tag_problem(tag, ARCHES)):
        raise SelectionError(f"--tag {tag!r}: {problem}")
    return namespace, tag


def _select_images(matrix: Matrix, names: Sequence[str], build_parents: bool) -> list[ImageSpec]:
    for name in names:
        if name not in matrix.names:
            raise SelectionError(f"{matrix.path}: no image {name!r}{suggest(name, matrix.names)}; "
                                 f"images: {', '.join(matrix.names)}")
    wanted = set(names or matrix.names)
    if build_parents:
        wanted |= {p for n in wanted for p in _ancestors(matrix, n)}
    return [spec for spec in matrix.images if spec.name in wanted]


def _ancestors(matrix: Matrix, name: str) -> Iterable[str]:
    parent = matrix.image(name).parent
    while parent is not None:
        yield parent
        parent = matrix.image(parent).parent


def _targets(matrix: Matrix, chosen: list[ImageSpec], arches: Sequence[Arch], ns: str,
             tg: str) -> tuple[Target, ...]:
    in_plan = {spec.name for spec in chosen}
    levels: dict[str, int] = {}
    targets: list[Target] = []
    for spec in chosen:  # matrix.images is parents-first, so a parent's level is known
        pinned = spec.parent in in_plan
        levels[spec.name] = levels[spec.parent] + 1 if pinned and spec.parent else 0
        for arch in spec.arches:
            if arches and arch not in arches:
                continue
            targets.append(_target(matrix, spec, arch, ns=ns, tg=tg, level=levels[spec.name],
                                   pinned=pinned))
    return tuple(sorted(targets, key=lambda t: (t.level, t.image, sort_key(t.arch))))


def _target(matrix: Matrix, spec: ImageSpec, arch: Arch, *, ns: str, tg: str, level: int,
            pinned: bool) -> Target:
    parent = spec.parent
    return Target(
        image=spec.name, arch=arch, ref=Reference.of(ns, spec.name, tg).per_arch(arch),
        level=level, context=spec.context, dockerfile=spec.dockerfile,
        build_args=tuple(sorted(spec.build_args(arch).items())),
        parent=parent if pinned else None,
        parent_name=matrix.published_name(parent) if parent else None,
        parent_published=(Reference.of(ns, parent, tg).per_arch(arch)
                          if parent and not pinned else None),
        description=spec.description, secrets=spec.secrets,
    )


def _manifests(matrix: Matrix, chosen: list[ImageSpec], targets: tuple[Target, ...], ns: str,
               tg: str) -> tuple[tuple[ManifestList, ...], tuple[str, ...]]:
    lists, deferred = [], []
    by_image: dict[str, list[Target]] = {}
    for t in targets:
        by_image.setdefault(t.image, []).append(t)
    for spec in chosen:
        planned = by_image.get(spec.name, [])
        if len(planned) < len(spec.arches):
            if planned:
                deferred.append(spec.name)
            continue
        entries = tuple((t.arch, t.ref) for t in planned)
        lists.append(ManifestList(image=spec.name, ref=Reference.of(ns, spec.name, tg),
                                  entries=entries))
    return tuple(lists), tuple(deferred)


def manifest_lists(matrix: Matrix, *, images: Sequence[str] = (), namespace: str | None = None,
                   tag: str | None = None) -> tuple[ManifestList, ...]:
    """The lists `xbuild manifest` assembles from per-arch tags already published."""
    plan = make_plan(matrix, images=images, namespace=namespace, tag=tag, build_parents=False)
    return plan.manifests


def plan_as_dict(plan: Plan) -> dict[str, Any]:
    return {
        "namespace": plan.namespace,
        "tag": plan.tag,
        "images": list(plan.images),
        "targets": [_target_as_dict(t) for t in plan.targets],
        "manifests": [
            {"image": m.image, "ref": str(m.ref),
             "entries": [{"arch": a.name, "platform": str(a.platform), "ref": str(r)}
                         for a, r in m.entries]}
            for m in plan.manifests
        ],
        "lists_deferred": list(plan.lists_deferred),
    }


def _target_as_dict(t: Target) -> dict[str, Any]:
    return {
        "image": t.image, "arch": t.arch.name, "platform": str(t.arch.platform),
        "tag": str(t.ref), "level": t.level, "parent": t.parent,
        "parent_name": _text(t.parent_name), "parent_published": _text(t.parent_published),
        "context": str(t.context),
        "dockerfile": str(t.dockerfile), "build_args": dict(t.build_args),
    }


def _text(ref: Reference | None) -> str | None:
    return str(ref) if ref is not None else None
