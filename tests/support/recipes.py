"""The repository's recipes (images/ and matrix.yml) built from test artifacts, for their
tests: narrowed to one arch, the stand-ins served through XBUILD_MIRROR, built with
`xbuild build --push --verify` (tests/integration/test_recipes.py; arm64v8 in tests/e2e)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from tests.support.artifacts import serve, write_mirror_tree
from tests.support.run import docker, xbuild

ROOT = Path(__file__).parents[2]
LOCK = "downloads.lock"  # README, "Downloads": `<sha256>  <url>` lines in the image's folder
PLATFORMS = {"amd64": "linux/amd64", "arm32v7": "linux/arm/v7", "arm64v8": "linux/arm64"}


class Registry(Protocol):
    @property
    def address(self) -> str: ...


@dataclass(frozen=True)
class Recipes:
    arch: str
    matrix: Path
    namespace: str
    mirror: str
    urls: dict[str, tuple[str, ...]]  # image -> the URLs the mirror serves stand-ins for

    def ref(self, image: str) -> str:
        return f"{self.namespace}/{image}:latest"


def narrowed(doc: dict[str, Any], arch: str) -> dict[str, Any]:
    """The matrix for one arch, checksum pins dropped: stand-ins never match real files."""
    doc["architectures"] = [arch]
    for spec in doc["images"].values():
        spec["architectures"] = [arch]
        if "arch_args" in spec:
            spec["arch_args"] = {arch: spec["arch_args"][arch]}
        for entry in (spec.get("downloads") or {}).values():
            if isinstance(entry, dict):
                entry.pop("sha256", None)
                if isinstance(entry["url"], dict):
                    entry["url"] = {arch: entry["url"][arch]}
    return doc


@contextmanager
def recipes_for(registry: Registry, root: Path, arch: str,
                images: tuple[str, ...]) -> Iterator[Recipes]:
    """The repository's recipes narrowed to `arch`, its base pushed, stand-ins served."""
    shutil.copytree(ROOT / "images", root / "images")
    for lock in (root / "images").glob(f"*/{LOCK}"):
        lock.unlink()  # the real files' checksums; the stand-ins are locked afresh
    doc = narrowed(yaml.safe_load((ROOT / "matrix.yml").read_text()), arch)
    (root / "matrix.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    namespace = f"{registry.address}/recipes-{arch}"
    bases = xbuild("bases", "-f", root / "matrix.yml", "--arch", arch, "--namespace", namespace)
    assert bases.exit_code == 0, bases.stderr
    urls = write_mirror_tree(root / "matrix.yml", images, root / "mirror")
    with serve(root / "mirror") as mirror:
        yield Recipes(arch=arch, matrix=root / "matrix.yml", namespace=namespace,
                      mirror=mirror, urls=urls)


_BUILT: set[tuple[str, str]] = set()  # (namespace, image) built and verified in this session


def built_ref(recipes: Recipes, image: str) -> str:
    """The image's reference, built and verified first if no test has done it yet (each test
    stands alone, whatever `-k` selects), and pulled, so that `docker run` prints nothing of
    its own."""
    if (recipes.namespace, image) not in _BUILT:
        build_and_verify(recipes, image, recipes.matrix.parent / "logs")
    pulled = docker("pull", "-q", "--platform", PLATFORMS[recipes.arch], recipes.ref(image))
    assert pulled.returncode == 0, pulled.stderr
    return recipes.ref(image)


def build_and_verify(recipes: Recipes, image: str, tmp_path: Path) -> dict[str, object]:
    built = xbuild("build", image, "-f", recipes.matrix, "--namespace", recipes.namespace,
                   "--push", "--verify", "--json", "--log-dir", tmp_path,
                   env={"XBUILD_MIRROR": recipes.mirror})
    assert built.exit_code == 0, built.stderr
    report = built.json()
    assert report["verified"] is True  # the smoke commands passed in the image's own arch
    _BUILT.add((recipes.namespace, image))
    return report


def in_image(recipes: Recipes, image: str, *command: str) -> str:
    """stdout of a command in the image, without network; it must exit 0."""
    done = docker("run", "--rm", "--network", "none", "--pull", "always",
                  "--platform", PLATFORMS[recipes.arch], "--entrypoint", command[0],
                  built_ref(recipes, image), *command[1:])
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
