"""matrix.yml -> a frozen, validated Matrix. Every message names the file and the key."""

from __future__ import annotations

import difflib
import graphlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xbuild import refs
from xbuild.downloads import ImageDownloads, parse_downloads
from xbuild.errors import MatrixError
from xbuild.platforms import ARCH_NAMES, Arch, arch_named, sort_key

TOP_KEYS = ("namespace", "tag", "architectures", "images", "bases")
BASE_KEYS = ("suite", "mirror", "security")
IMAGE_KEYS = ("context", "dockerfile", "from", "architectures", "args", "arch_args", "smoke",
              "downloads")
BuildArgs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSpec:
    name: str
    context: Path
    dockerfile: Path
    parent: str | None
    arches: tuple[Arch, ...]
    args: BuildArgs
    arch_args: tuple[tuple[str, BuildArgs], ...]
    smoke: tuple[tuple[str, str], ...] = ()  # name -> shell command `xbuild verify` runs
    downloads: ImageDownloads | None = None  # files fetched once per run for its builds

    def build_args(self, arch: Arch) -> dict[str, str]:
        merged = dict(self.args)
        merged.update(dict(self.arch_args).get(arch.name, ()))
        return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseSpec:
    """A base image xbuild can bootstrap from a Debian mirror instead of pulling it."""

    name: str  # as Dockerfiles say it: debian:bookworm-slim
    suite: str
    mirror: str
    security: str = ""  # the security archive, or "" for none

    @property
    def repository(self) -> str:
        return self.name.rsplit(":", 1)[0].rsplit("/", 1)[-1]

    @property
    def tag(self) -> str:
        return self.name.rsplit(":", 1)[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    path: Path
    namespace: str
    tag: str
    arches: tuple[Arch, ...]
    images: tuple[ImageSpec, ...]  # in dependency order, parents first
    bases: tuple[BaseSpec, ...] = ()
    _by_name: dict[str, ImageSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {i.name: i for i in self.images})

    def image(self, name: str) -> ImageSpec:
        return self._by_name[name]

    @property
    def all_arches(self) -> tuple[Arch, ...]:
        """Every arch some image is built for, in table order."""
        return tuple(sorted({a for i in self.images for a in i.arches}, key=sort_key))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.images)

    def published_name(self, image: str) -> str:
        """How a child's Dockerfile names an in-matrix parent: `<namespace>/<image>:<tag>`."""
        return f"{self.namespace}/{image}:{self.tag}"


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc]
    """Safe loading that rejects a key given twice instead of keeping the last silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            keys.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class _Doc:
    """Where we are in the file, for messages: `matrix.yml: images.orthanc.context: ...`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> MatrixError:
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        return MatrixError(where + message)


def suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_matrix(path: Path) -> Matrix:
    doc = _Doc(path)
    raw = _read_yaml(path, doc)
    _check_keys(raw, TOP_KEYS, "", doc)
    namespace = _reference_part(raw, "namespace", refs.namespace_problem, doc)
    tag = _reference_part(raw, "tag", refs.tag_problem, doc)
    default_arches = _arches(raw.get("architectures", ["amd64"]), "architectures", doc)
    images = _images(raw, path.parent, default_arches, doc)
    _check_tag_lengths(tag, images, doc)
    matrix = Matrix(path=path, namespace=namespace, tag=tag, arches=default_arches, images=images,
                    bases=_bases(raw.get("bases"), doc))
    for spec in images:
        _check_parent_named(matrix, spec, doc)
    return matrix


def dockerfile_bases(dockerfile: Path) -> tuple[str, ...]:
    """The image names of a Dockerfile's FROM lines (flags and `AS name` dropped)."""
    bases = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            bases += [w for w in words[1:] if not w.startswith("--")][:1]
    return tuple(bases)


def _check_parent_named(matrix: Matrix, spec: ImageSpec, doc: _Doc) -> None:
    if spec.parent is None:
        return
    name = matrix.published_name(spec.parent)
    try:
        bases = dockerfile_bases(spec.dockerfile)
    except UnicodeDecodeError as exc:
        raise doc.error(f"images.{spec.name}.dockerfile",
                        f"{spec.dockerfile} is not UTF-8 (byte {exc.start})") from None
    if name not in bases:
        raise doc.error(f"images.{spec.name}.from",
                        f"{spec.dockerfile} has no 'FROM {name}', so the {spec.parent!r} "
                        "built in the same run could not be used")


def _read_yaml(path: Path, doc: _Doc) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise doc.error("", "no such file (pass another with -f/--matrix)") from None
    except UnicodeDecodeError as exc:
        raise doc.error("", f"not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise doc.error("", f"cannot read: {exc.strerror}") from exc
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise MatrixError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise doc.error("", f"invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise doc.error("", f"must be a mapping of {', '.join(TOP_KEYS)}, not {_kind(raw)}")
    return raw


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], key: str, doc: _Doc) -> None:
    for name in raw:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            raise doc.error(where, f"unknown key{suggest(str(name), allowed)}; "
                                   f"known keys: {', '.join(allowed)}")


def _reference_part(raw: Mapping[str, Any], key: str, problem: Any, doc: _Doc) -> str:
    value = raw.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # `tag: 2024`; a float such as 1.10 would lose digits, so not those
    if not isinstance(value, str) or not value:
        raise doc.error(key, f"required, a non-empty string (got {_kind(value)})")
    if reason := problem(value):
        raise doc.error(key, f"{value!r} is not a valid Docker reference part: {reason}")
    return value


def _arches(value: object, key: str, doc: _Doc) -> tuple[Arch, ...]:
    if not isinstance(value, list) or not value:
        raise doc.error(key, f"must be a non-empty list of architectures (got {_kind(value)})")
    found: list[Arch] = []
    for item in value:
        arch = arch_named(item) if isinstance(item, str) else None
        if arch is None:
            raise doc.error(key, f"unknown architecture {item!r}{suggest(str(item), ARCH_NAMES)}; "
                                 f"known: {', '.join(ARCH_NAMES)}")
        if arch in found:
            raise doc.error(key, f"{arch.name!r} is listed twice")
        found.append(arch)
    return tuple(sorted(found, key=sort_key))


def _build_args(value: object, key: str, doc: _Doc) -> BuildArgs:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error(key, f"must be a mapping of NAME: value (got {_kind(value)})")
    for name, arg in value.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise doc.error(f"{key}.{name}", "is not a valid build-arg name")
        if isinstance(arg, dict | list) or arg is None:
            raise doc.error(f"{key}.{name}", f"must be a string or number (got {_kind(arg)})")
    return tuple((name, _scalar(arg)) for name, arg in value.items())


def _scalar(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _images(raw: Mapping[str, Any], root: Path, default_arches: tuple[Arch, ...],
            doc: _Doc) -> tuple[ImageSpec, ...]:
    images = raw.get("images")
    if not isinstance(images, dict):
        raise doc.error("images", f"must map image names to settings (got {_kind(images)})")
    if not images:
        raise doc.error("images", "is empty: list at least one image")
    parents = {name: _parent_of(name, entry, images, doc) for name, entry in images.items()}
    order = _dependency_order(parents, doc)
    specs: dict[str, ImageSpec] = {}
    for name in order:
        parent = specs.get(parents[name] or "")
        specs[name] = _image(name, images[name], root, default_arches=default_arches,
                             parent=parent, doc=doc)
    return tuple(specs[name] for name in order)


def _parent_of(name: object, entry: object, images: Mapping[str, Any], doc: _Doc) -> str | None:
    key = f"images.{name}"
    if not isinstance(name, str) or (reason := refs.name_problem(name)):
        raise doc.error(key, f"{name!r} is not a valid image name: {reason or 'not a string'}")
    if not isinstance(entry, dict):
        raise doc.error(key, f"must be a mapping with at least 'context' (got {_kind(entry)})")
    _check_keys(entry, IMAGE_KEYS, key, doc)
    parent = entry.get("from")
    if parent is not None and not isinstance(parent, str):
        raise doc.error(f"{key}.from", f"must be the name of another image (got {_kind(parent)})")
    if parent is not None and parent not in images:
        known = tuple(str(n) for n in images)
        raise doc.error(f"{key}.from", f"unknown parent {parent!r}{suggest(str(parent), known)}; "
                                       f"images: {', '.join(known)}")
    return parent


def _dependency_order(parents: Mapping[str, str | None], doc: _Doc) -> list[str]:
    # Sorting the names first keeps the order stable whatever the file's order.
    graph = {name: {p} if p else set() for name, p in sorted(parents.items())}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(reversed(exc.args[1]))
        raise doc.error("images", f"dependency cycle: {cycle}") from None


def _image(name: str, entry: Mapping[str, Any], root: Path, *, default_arches: tuple[Arch, ...],
           parent: ImageSpec | None, doc: _Doc) -> ImageSpec:
    key = f"images.{name}"
    context = _context(entry, root, key, doc)
    dockerfile = _dockerfile(entry, context, key, doc)
    arches = _image_arches(entry, default_arches, parent, key, doc)
    arch_args = entry.get("arch_args") or {}
    if not isinstance(arch_args, dict):
        raise doc.error(f"{key}.arch_args", f"must map an architecture to build args "
                                            f"(got {_kind(arch_args)})")
    per_arch = []
    for arch_name, args in arch_args.items():
        (arch,) = _arches([arch_name], f"{key}.arch_args", doc)
        if arch not in arches:
            raise doc.error(f"{key}.arch_args.{arch_name}", f"{name!r} is not built for {arch}")
        per_arch.append((arch.name, _build_args(args, f"{key}.arch_args.{arch_name}", doc)))
    return ImageSpec(name=name, context=context, dockerfile=dockerfile,
                     parent=parent.name if parent else None, arches=arches,
                     args=_build_args(entry.get("args"), f"{key}.args", doc),
                     arch_args=tuple(per_arch), smoke=_smoke(entry.get("smoke"), key, doc),
                     downloads=parse_downloads(entry.get("downloads"), f"{key}.downloads",
                                               arches, context, doc.error))


def _smoke(value: object, key: str, doc: _Doc) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
        raise doc.error(f"{key}.smoke", "must map a check name to a shell command")
    return tuple(value.items())


def _context(entry: Mapping[str, Any], root: Path, key: str, doc: _Doc) -> Path:
    value = entry.get("context")
    if not isinstance(value, str) or not value:
        raise doc.error(f"{key}.context", f"required, a folder relative to {doc.path.name}")
    context = (root / value).resolve()
    if not context.is_dir():
        raise doc.error(f"{key}.context", f"folder {value!r} does not exist")
    return context


def _dockerfile(entry: Mapping[str, Any], context: Path, key: str, doc: _Doc) -> Path:
    value = entry.get("dockerfile", "Dockerfile")
    if not isinstance(value, str) or not value:
        raise doc.error(f"{key}.dockerfile", "must be a file name relative to the context")
    dockerfile = context / value
    if not dockerfile.is_file():
        raise doc.error(f"{key}.dockerfile", f"{dockerfile} does not exist")
    return dockerfile


def _image_arches(entry: Mapping[str, Any], default_arches: tuple[Arch, ...],
                  parent: ImageSpec | None, key: str, doc: _Doc) -> tuple[Arch, ...]:
    if "architectures" not in entry:
        # A child builds for what its parent builds.
        return parent.arches if parent else default_arches
    arches = _arches(entry["architectures"], f"{key}.architectures", doc)
    if parent is not None:
        lacking = [a.name for a in arches if a not in parent.arches]
        if lacking:
            have = ", ".join(a.name for a in parent.arches)
            raise doc.error(f"{key}.architectures",
                            f"{', '.join(lacking)} not built by parent {parent.name!r} "
                            f"(it has {have})")
    return arches


def _bases(value: object, doc: _Doc) -> tuple[BaseSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error("bases", f"must map a base image name to suite and mirror "
                                 f"(got {_kind(value)})")
    return tuple(_base(str(name), entry, doc) for name, entry in value.items())


def _base(name: str, entry: object, doc: _Doc) -> BaseSpec:
    key = f"bases.{name}"
    try:
        reference = refs.parse_reference(name)
    except ValueError as exc:
        raise doc.error(key, f"not an image reference: {exc}") from None
    if not reference.tag or reference.digest:
        raise doc.error(key, "name the base with a tag, as Dockerfiles do: debian:bookworm-slim")
    if not isinstance(entry, dict):
        raise doc.error(key, f"must be a mapping with suite and mirror (got {_kind(entry)})")
    _check_keys(entry, BASE_KEYS, key, doc)
    fields = {}
    for field_name in BASE_KEYS:
        text = entry.get(field_name, "")
        if not isinstance(text, str) or (field_name in ("suite", "mirror") and not text):
            raise doc.error(f"{key}.{field_name}", f"required, a string (got {_kind(text)})")
        if field_name != "suite" and text and not re.match(r"https?://", text):
            raise doc.error(f"{key}.{field_name}", f"{text!r} is not an http(s) URL")
        fields[field_name] = text
    return BaseSpec(name=name, **fields)


def per_arch_tag_problem(tag: str, arches: Iterable[Arch]) -> str | None:
    longest = max((len(a.name) for a in arches), default=0)
    if len(tag) + 1 + longest > 128:
        return f"{tag!r} is too long: per-arch tags '<tag>-<arch>' must fit in 128 characters"
    return None


def _check_tag_lengths(tag: str, images: tuple[ImageSpec, ...], doc: _Doc) -> None:
    if problem := per_arch_tag_problem(tag, (a for i in images for a in i.arches)):
        raise doc.error("tag", problem)
