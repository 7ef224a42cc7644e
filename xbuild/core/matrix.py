"""matrix.yml -> a frozen, validated Matrix. Every message names the file and the key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xbuild.core import refs
from xbuild.core.downloads import Redirects, branch_warnings, parse_redirects
from xbuild.core.errors import InvalidReference
from xbuild.core.imagespec import ImageSpec, parse_arches, parse_images, with_dockerfile_facts
from xbuild.core.nodes import NodeMap, parse_builders
from xbuild.core.platforms import Arch, sort_key
from xbuild.core.refs import Reference, per_arch_tag_problem
from xbuild.core.settings import SigningSettings
from xbuild.core.text import quoted
from xbuild.core.yamlfile import Doc, check_keys, kind, read_yaml

TOP_KEYS = ("namespace", "tag", "architectures", "images", "bases", "redirects", "builders",
            "signing")
SIGNING_KEYS = ("key", "keyless")
BASE_KEYS = ("suite", "mirror", "security")
_SUITE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_MIRROR = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%/+-]*)?")

@dataclass(frozen=True, slots=True, kw_only=True)
class BaseSpec:
    """A base image xbuild can bootstrap from a Debian mirror instead of pulling it."""

    name: Reference  # as Dockerfiles say it: debian:bookworm-slim
    suite: str
    mirror: str
    security: str = ""  # the security archive, or "" for none

    def published(self, namespace: str) -> Reference:
        """The list `xbuild bases` publishes: <namespace>/debian:bookworm-slim."""
        return self.name.in_namespace(namespace)


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    path: Path
    namespace: str
    tag: str
    arches: tuple[Arch, ...]
    images: tuple[ImageSpec, ...]  # in dependency order, parents first
    bases: tuple[BaseSpec, ...] = ()
    redirects: Redirects = ()  # download host -> the hosts it may redirect to
    builders: NodeMap = field(default_factory=NodeMap)  # where each arch builds (nodes.py)
    signing: SigningSettings = field(default_factory=SigningSettings)  # how releases are signed
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

    def warnings(self) -> list[str]:
        """What is valid but unwise, e.g. a download naming a moving branch."""
        return [f"{self.path}: {w}" for spec in self.images
                for w in branch_warnings(spec.name, spec.downloads)]

    def published_name(self, image: str) -> Reference:
        """How a child's Dockerfile names an in-matrix parent: `<namespace>/<image>:<tag>`."""
        return Reference.of(self.namespace, image, self.tag)


def work_tree(folder: Path) -> Path:
    """The git work tree holding `folder` (an ancestor with `.git`), else `folder` itself:
    what a matrix's contexts and Dockerfiles may not leave."""
    folder = folder.resolve()
    return next((p for p in (folder, *folder.parents) if (p / ".git").exists()), folder)


def load_matrix(path: Path) -> Matrix:
    doc = Doc(path)
    raw = read_yaml(path, doc, expected=", ".join(TOP_KEYS))
    check_keys(raw, TOP_KEYS, "", doc)
    namespace = _reference_part(raw, "namespace", refs.namespace_problem, doc)
    tag = _reference_part(raw, "tag", refs.tag_problem, doc)
    default_arches = parse_arches(raw.get("architectures", ["amd64"]), "architectures", doc)
    images = parse_images(raw, root=path.parent, within=work_tree(path.parent),
                          default_arches=default_arches, doc=doc)
    if problem := per_arch_tag_problem(tag, tuple(a for i in images for a in i.arches)):
        raise doc.error("tag", problem)
    checked = tuple(with_dockerfile_facts(
        spec, Reference.of(namespace, spec.parent, tag) if spec.parent else None, doc)
        for spec in images)
    every_arch = tuple(sorted({a for i in images for a in i.arches}, key=sort_key))
    return Matrix(path=path, namespace=namespace, tag=tag, arches=default_arches,
                  images=checked, bases=_bases(raw.get("bases"), doc),
                  redirects=parse_redirects(raw.get("redirects"), doc.error),
                  builders=parse_builders(raw.get("builders"), every_arch, doc),
                  signing=_signing(raw.get("signing"), path.parent, doc))


def _reference_part(raw: Mapping[str, Any], key: str, problem: Any, doc: Doc) -> str:
    value = raw.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # `tag: 2024`; a float such as 1.10 would lose digits, so not those
    if not isinstance(value, str) or not value:
        raise doc.error(key, f"required, a non-empty string (got {kind(value)})")
    if reason := problem(value):
        raise doc.error(key, f"{quoted(value)} is not a valid Docker reference part: {reason}")
    return value


def _signing(value: object, root: Path, doc: Doc) -> SigningSettings:
    """`signing: {key: cosign.key}` (relative to matrix.yml; its password from
    COSIGN_PASSWORD) or `signing: {keyless: true}`."""
    if value is None:
        return SigningSettings()
    if not isinstance(value, dict):
        raise doc.error("signing", f"must be a mapping with key or keyless (got {kind(value)})")
    check_keys(value, SIGNING_KEYS, "signing", doc)
    key, keyless = value.get("key"), value.get("keyless", False)
    if key is not None and (not isinstance(key, str) or not key):
        raise doc.error("signing.key", f"the cosign private key's path (got {kind(key)})")
    if not isinstance(keyless, bool):
        raise doc.error("signing.keyless", f"true or false (got {kind(keyless)})")
    if key is not None and keyless:
        raise doc.error("signing", "key or keyless, not both")
    return SigningSettings(key=root / key if key else None, keyless=keyless)


def _bases(value: object, doc: Doc) -> tuple[BaseSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error("bases", f"must map a base image name to suite and mirror "
                                 f"(got {kind(value)})")
    return tuple(_base(name, entry, doc) for name, entry in value.items())


def _base(name: str, entry: object, doc: Doc) -> BaseSpec:
    key = f"bases.{name}"[:200]
    try:
        reference = Reference.parse(name)
    except InvalidReference as exc:
        raise doc.error(key, f"not an image reference: {exc}") from None
    if not reference.tag or reference.digest:
        raise doc.error(key, "name the base with a tag, as Dockerfiles do: debian:bookworm-slim")
    if not isinstance(entry, dict):
        raise doc.error(key, f"must be a mapping with suite and mirror (got {kind(entry)})")
    check_keys(entry, BASE_KEYS, key, doc)
    fields = {name: _base_field(entry.get(name), f"{key}.{name}", _GRAMMARS[name], doc)
              for name in BASE_KEYS if name != "security" or entry.get(name) is not None}
    return BaseSpec(name=reference, **fields)


_GRAMMARS = {"suite": (_SUITE, "a Debian suite name such as bookworm"),
             "mirror": (_MIRROR, "an http(s) URL"), "security": (_MIRROR, "an http(s) URL")}


def _base_field(value: object, key: str, grammar: tuple[re.Pattern[str], str], doc: Doc) -> str:
    """A field that reaches mmdebstrap's command line: it must match its grammar exactly."""
    pattern, what = grammar
    if not isinstance(value, str) or not value:
        raise doc.error(key, f"required, {what} (got {kind(value)})")
    if not pattern.fullmatch(value):
        raise doc.error(key, f"{quoted(value)} is not {what}")
    return value
