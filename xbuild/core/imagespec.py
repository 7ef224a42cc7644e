"""One image of matrix.yml: its folder, Dockerfile, parent, arches, build args and checks."""

from __future__ import annotations

import graphlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xbuild.core import dockerfile as df
from xbuild.core import refs
from xbuild.core.bounded_read import read_bounded
from xbuild.core.downloads import ImageDownloads, parse_downloads
from xbuild.core.parity import NO_PARITY, ParitySpec, parse_parity
from xbuild.core.platforms import Arch, UnknownArch, parse_arch, sort_key
from xbuild.core.refs import Reference
from xbuild.core.smoke import SmokeTest, parse_smoke
from xbuild.core.text import quoted, suggest
from xbuild.core.yamlfile import Doc, check_keys, kind

IMAGE_KEYS = ("context", "dockerfile", "from", "architectures", "args", "arch_args", "smoke",
              "downloads", "description", "secrets", "parity")
BuildArgs = tuple[tuple[str, str], ...]
_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# A build arg is baked into the image's history and shows in every process list: a name like
# these is refused, with a pointer to `secrets`, rather than redacted here and there.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|(^|_)KEY$|APIKEY",
                          re.IGNORECASE)
_SECRET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret:
    """A BuildKit secret (`RUN --mount=type=secret,id=<id>`): from an environment variable or
    a file. xbuild passes where it is, never what it is."""

    id: str
    env: str = ""
    file: Path | None = None

    @property
    def spec(self) -> str:
        """buildx's `--secret` value: it names the source, it never holds the value."""
        return f"id={self.id},env={self.env}" if self.env else f"id={self.id},src={self.file}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSpec:
    name: str
    context: Path
    dockerfile: Path
    parent: str | None
    arches: tuple[Arch, ...]
    args: BuildArgs
    arch_args: tuple[tuple[str, BuildArgs], ...]
    smoke: tuple[SmokeTest, ...] = ()  # shell commands `xbuild verify` runs in each arch
    downloads: ImageDownloads | None = None  # files downloaded once per run for its builds
    # The image's own description label: matrix.yml's; None when only its Dockerfile has
    # one; "" when neither has (a base's description is then blanked, never inherited).
    description: str | None = ""
    secrets: tuple[Secret, ...] = ()
    parity: ParitySpec = NO_PARITY  # what `xbuild verify` compares across its arches

    def build_args(self, arch: Arch) -> dict[str, str]:
        merged = dict(self.args)
        merged.update(dict(self.arch_args).get(arch.name, ()))
        return merged


def parse_arches(value: object, key: str, doc: Doc) -> tuple[Arch, ...]:
    if not isinstance(value, list) or not value:
        raise doc.error(key, f"must be a non-empty list of architectures (got {kind(value)})")
    found: list[Arch] = []
    for item in value:
        try:
            arch = parse_arch(item)
        except UnknownArch as exc:
            raise doc.error(key, str(exc)) from None
        if arch in found:
            raise doc.error(key, f"{arch.name!r} is listed twice")
        found.append(arch)
    return tuple(sorted(found, key=sort_key))


def parse_images(raw: Mapping[str, Any], *, root: Path, within: Path,
                 default_arches: tuple[Arch, ...], doc: Doc) -> tuple[ImageSpec, ...]:
    """Every image, parents first. Folders must lie inside `within` (see load_matrix)."""
    images = raw.get("images")
    if not isinstance(images, dict):
        raise doc.error("images", f"must map image names to settings (got {kind(images)})")
    if not images:
        raise doc.error("images", "is empty: list at least one image")
    parents = {name: _parent_of(name, entry, images, doc) for name, entry in images.items()}
    specs: dict[str, ImageSpec] = {}
    for name in _dependency_order(parents, doc):
        entry = images[name]
        specs[name] = _image(name, entry, _Place(root=root, within=within),
                             default_arches=default_arches, parent=specs.get(parents[name] or ""),
                             doc=doc)
    return tuple(specs.values())


@dataclass(frozen=True, slots=True)
class _Place:
    root: Path  # the folder of matrix.yml, which relative paths start from
    within: Path  # the folder nothing may leave


def _parent_of(name: str, entry: object, images: Mapping[str, Any], doc: Doc) -> str | None:
    key = f"images.{name}"
    if reason := refs.name_problem(name):
        raise doc.error(key[:200], f"{quoted(name)} is not a valid image name: {reason}")
    if not isinstance(entry, dict):
        raise doc.error(key, f"must be a mapping with at least 'context' (got {kind(entry)})")
    check_keys(entry, IMAGE_KEYS, key, doc)
    parent = entry.get("from")
    if parent is not None and not isinstance(parent, str):
        raise doc.error(f"{key}.from", f"must be the name of another image (got {kind(parent)})")
    if parent is not None and parent not in images:
        known = tuple(images)
        raise doc.error(f"{key}.from", f"unknown parent {quoted(parent)}"
                                       f"{suggest(parent, known)}; images: {', '.join(known)}")
    return parent


def _dependency_order(parents: Mapping[str, str | None], doc: Doc) -> list[str]:
    # Sorting the names first keeps the order stable whatever the file's order.
    graph = {name: {p} if p else set() for name, p in sorted(parents.items())}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(reversed(exc.args[1]))
        raise doc.error("images", f"dependency cycle: {cycle}") from None


def _image(name: str, entry: Mapping[str, Any], place: _Place, *,
           default_arches: tuple[Arch, ...], parent: ImageSpec | None, doc: Doc) -> ImageSpec:
    key = f"images.{name}"
    context = _context(entry, place, key, doc)
    dockerfile = _dockerfile(entry, context, place, key, doc)
    arches = _image_arches(entry, default_arches, parent, key, doc)
    return ImageSpec(name=name, context=context, dockerfile=dockerfile,
                     parent=parent.name if parent else None, arches=arches,
                     args=_build_args(entry.get("args"), f"{key}.args", doc),
                     arch_args=_arch_args(entry.get("arch_args"), name, arches, doc),
                     smoke=parse_smoke(entry.get("smoke"), f"{key}.smoke", doc),
                     downloads=parse_downloads(entry.get("downloads"), f"{key}.downloads",
                                               arches, context, doc.error),
                     description=_description(entry.get("description"), key, doc),
                     secrets=_secrets(entry.get("secrets"), f"{key}.secrets", place, doc),
                     parity=parse_parity(entry.get("parity"), f"{key}.parity", arches, doc))


def _arch_args(value: object, name: str, arches: tuple[Arch, ...],
               doc: Doc) -> tuple[tuple[str, BuildArgs], ...]:
    key = f"images.{name}.arch_args"
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error(key, f"must map an architecture to build args (got {kind(value)})")
    per_arch = []
    for arch_name, args in value.items():
        (arch,) = parse_arches([arch_name], key, doc)
        if arch not in arches:
            raise doc.error(f"{key}.{arch_name}", f"{name!r} is not built for {arch}")
        per_arch.append((arch.name, _build_args(args, f"{key}.{arch_name}", doc)))
    return tuple(per_arch)


def _build_args(value: object, key: str, doc: Doc) -> BuildArgs:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error(key, f"must be a mapping of NAME: value (got {kind(value)})")
    for name, arg in value.items():
        if not _ARG_NAME.fullmatch(name):
            raise doc.error(f"{key}.{name}"[:200], "is not a valid build-arg name")
        if _SECRET_NAME.search(name):
            raise doc.error(f"{key}.{name}", "looks like a secret, and a build arg is kept in the "
                                             "image's history: pass it under the image's "
                                             "`secrets` instead (README: Build secrets)")
        if isinstance(arg, dict | list) or arg is None:
            raise doc.error(f"{key}.{name}", f"must be a string or number (got {kind(arg)})")
    return tuple((name, _scalar(arg)) for name, arg in value.items())


def _scalar(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _secrets(value: object, key: str, place: _Place, doc: Doc) -> tuple[Secret, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error(key, "must map a secret id to {env: VAR} or {file: PATH}")
    found = []
    for sid, source in value.items():
        where = f"{key}.{sid}"[:200]
        if not _SECRET_ID.fullmatch(sid):
            raise doc.error(where, "a secret id is up to 64 letters, digits, . _ -")
        if not isinstance(source, dict) or len(source) != 1 or not (
                set(source) <= {"env", "file"}) or not isinstance(next(iter(source.values())),
                                                                   str) \
                or "\0" in next(iter(source.values())):  # no path holds NUL; resolve() raises
            raise doc.error(where, "must be {env: VAR} or {file: PATH}")
        if "env" in source:
            if not _ARG_NAME.fullmatch(source["env"]):
                raise doc.error(f"{where}.env", "is not an environment variable's name")
            found.append(Secret(id=sid, env=source["env"]))
        else:
            found.append(Secret(id=sid, file=(place.root / source["file"]).resolve()))
    return tuple(found)


def _description(value: object, key: str, doc: Doc) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip() \
            or len(value) > 512:
        raise doc.error(f"{key}.description", "must be one line of text, at most 512 characters")
    return value.strip()


def _inside(path: Path, place: _Place) -> bool:
    return path == place.within or place.within in path.parents


def _context(entry: Mapping[str, Any], place: _Place, key: str, doc: Doc) -> Path:
    value = entry.get("context")
    if not isinstance(value, str) or not value or "\0" in value:  # resolve() raises on NUL
        raise doc.error(f"{key}.context", f"required, a folder relative to {doc.path.name}")
    context = (place.root / value).resolve()  # symlinks followed
    if not _inside(context, place):
        raise doc.error(f"{key}.context", f"{quoted(value)} leads outside {place.within}: "
                                          "a context may not reach the rest of the host")
    if not context.is_dir():
        raise doc.error(f"{key}.context", f"folder {quoted(value)} does not exist")
    return context


def _dockerfile(entry: Mapping[str, Any], context: Path, place: _Place, key: str,
                doc: Doc) -> Path:
    value = entry.get("dockerfile", "Dockerfile")
    if not isinstance(value, str) or not value or "\0" in value:
        raise doc.error(f"{key}.dockerfile", "must be a file name relative to the context")
    dockerfile = (context / value).resolve()
    if not _inside(dockerfile, place):
        raise doc.error(f"{key}.dockerfile", f"{quoted(value)} leads outside {place.within}")
    if not dockerfile.is_file():
        raise doc.error(f"{key}.dockerfile", f"{context / value} does not exist")
    return dockerfile


def _image_arches(entry: Mapping[str, Any], default_arches: tuple[Arch, ...],
                  parent: ImageSpec | None, key: str, doc: Doc) -> tuple[Arch, ...]:
    if "architectures" not in entry:
        # A child builds for what its parent builds.
        return parent.arches if parent else default_arches
    arches = parse_arches(entry["architectures"], f"{key}.architectures", doc)
    if parent is not None:
        lacking = [a.name for a in arches if a not in parent.arches]
        if lacking:
            have = ", ".join(a.name for a in parent.arches)
            raise doc.error(f"{key}.architectures",
                            f"{', '.join(lacking)} not built by parent {parent.name!r} "
                            f"(it has {have})")
    return arches


def with_dockerfile_facts(spec: ImageSpec, parent_name: Reference | None,
                          doc: Doc) -> ImageSpec:
    """Check the child's FROM names its parent; note whether it labels its own description."""
    text = _read_dockerfile(spec, doc)
    if parent_name is not None and str(parent_name) not in {f.image for f in df.from_lines(text)}:
        raise doc.error(f"images.{spec.name}.from",
                        f"{spec.dockerfile} has no 'FROM {parent_name}', so the "
                        f"{spec.parent!r} built in the same run could not be used")
    if spec.description == "" and df.labels_description(text):
        return replace(spec, description=None)
    return spec


def _read_dockerfile(spec: ImageSpec, doc: Doc) -> str:
    key = f"images.{spec.name}.dockerfile"
    try:
        return read_bounded(spec.dockerfile, df.MAX_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise doc.error(key, f"{spec.dockerfile} is not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise doc.error(key, f"cannot read {spec.dockerfile}: {exc.strerror}") from None
