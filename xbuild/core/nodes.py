"""Where each arch builds: an arch -> node map. Pure.

A node is a docker context (an engine: local, `ssh://`, `tcp://` with TLS) or a buildx builder
(multi-node, remote, kubernetes), named as `docker context ls` or `docker buildx ls` name it;
which of the two it is, the engine adapter finds out. Without a map, every arch builds on the
default node: the current docker context and its default builder.

matrix.yml:  builders: {arm64v8: jetson, arm32v7: {name: pi-farm, jobs: 1}}
CLI:         --builder arm64v8=jetson (repeatable), or --builder NAME for every arch
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from xbuild.core.errors import SelectionError
from xbuild.core.platforms import Arch, Platform, UnknownArch, arch_named, parse_arch
from xbuild.core.text import quoted
from xbuild.core.yamlfile import Doc, check_keys, kind

DEFAULT = ""  # the default node: the current docker context and its builder
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")
NODE_KEYS = ("name", "jobs")


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    name: str  # a docker context or buildx builder; DEFAULT for the current one
    jobs: int | None = None  # builds at once on this node; None: the run's --jobs

    def __str__(self) -> str:
        return self.name or "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeMap:
    by_arch: tuple[tuple[str, Node], ...] = ()
    every: Node | None = None  # --builder NAME: every arch

    def node_for(self, arch: Arch) -> Node:
        if self.every is not None:
            return self.every
        return dict(self.by_arch).get(arch.name, Node(name=DEFAULT))

    def nodes(self, arches: Iterable[Arch]) -> tuple[Node, ...]:
        """The nodes `arches` use, each once, in arch order."""
        return tuple(dict.fromkeys(self.node_for(a) for a in arches))

    def arches_on(self, node: Node, arches: Iterable[Arch]) -> tuple[Arch, ...]:
        """Which of `arches` build on `node`, in the order given."""
        return tuple(a for a in arches if self.node_for(a) == node)

    def overridden(self, other: NodeMap) -> NodeMap:
        """This map with `other` (the command line) taking precedence."""
        if other.every is not None:
            return NodeMap(every=other.every)
        if self.every is not None and not other.by_arch:
            return self
        merged = dict(self.by_arch) | dict(other.by_arch)
        return NodeMap(by_arch=tuple(sorted(merged.items())))


def parse_builders(value: object, arches: tuple[Arch, ...], doc: Doc) -> NodeMap:
    """matrix.yml's `builders`: each arch the matrix builds mapped to a node."""
    if value is None:
        return NodeMap()
    if not isinstance(value, dict):
        raise doc.error("builders", f"must map an architecture to a node (got {kind(value)})")
    found: dict[str, Node] = {}
    for name, entry in value.items():
        key = f"builders.{name}"[:200]
        arch = arch_named(name)
        if arch is None or arch not in arches:
            raise doc.error(key, "not an architecture the matrix builds ("
                                 f"{', '.join(a.name for a in arches)})")
        if arch.name in found:
            raise doc.error(key, f"{arch.name} is given twice")
        found[arch.name] = _node(entry, key, doc)
    return NodeMap(by_arch=tuple(sorted(found.items())))


def _node(entry: object, key: str, doc: Doc) -> Node:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict):
        raise doc.error(key, "must be a docker context or buildx builder name, or {name, jobs}")
    check_keys(entry, NODE_KEYS, key, doc)
    name, jobs = entry.get("name"), entry.get("jobs")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise doc.error(f"{key}.name", "must be a docker context or buildx builder name")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise doc.error(f"{key}.jobs", "must be a whole number of builds at once, at least 1")
    return Node(name=name, jobs=jobs)


def parse_builder_options(values: Iterable[str]) -> NodeMap:
    """`--builder ARCH=NAME` (repeatable) or `--builder NAME` (every arch)."""
    by_arch: dict[str, Node] = {}
    every: Node | None = None
    for value in values:
        arch_name, sep, name = value.rpartition("=") if "=" in value else ("", "", value)
        if not _NAME.fullmatch(name):
            raise SelectionError(f"--builder {quoted(value)}: {quoted(name)} is not a docker "
                                 "context or buildx builder name")
        if not sep:
            every = Node(name=name)
            continue
        try:
            arch = parse_arch(arch_name)
        except UnknownArch as exc:
            raise SelectionError(f"--builder {quoted(value)}: {exc}") from None
        if arch.name in by_arch:
            raise SelectionError(f"--builder {quoted(value)}: {arch.name} is given twice")
        by_arch[arch.name] = Node(name=name)
    if every is not None and by_arch:
        raise SelectionError("--builder NAME sends every arch to one node: give it alone, or "
                             "only ARCH=NAME")
    return NodeMap(by_arch=tuple(sorted(by_arch.items())), every=every)


def emulated(arch: Arch, native: Iterable[Platform]) -> bool:
    """Whether a node whose CPU runs `native` platforms would build `arch` under emulation.
    An arm/v7 build on an arm64 node counts as emulated: many arm64 CPUs lack AArch32, and
    buildx still sends arm/v7 there, to QEMU, without a word."""
    return not any(arch.platform.same_as(p) for p in native)


def cross_node_problem(parent: tuple[str, Node], child: tuple[str, Node]) -> str | None:
    """Without --push, a child is built FROM the image its parent's build loaded into its
    node's engine: both must build on the same node."""
    (parent_key, parent_node), (child_key, child_node) = parent, child
    if parent_node == child_node:
        return None
    return (f"{child_key} builds on node {child_node} but its parent {parent_key} on "
            f"{parent_node}: without --push the parent never leaves {parent_node} (use --push)")

