"""imagetrove for arm64v8 from test artifacts, under QEMU: its Debian stack takes about 15
minutes to install under emulation. The amd64 recipes are tests/integration/test_recipes.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.recipes import Registry, build_and_verify, in_image, recipes_for

pytestmark = pytest.mark.e2e


def test_imagetrove_on_arm64v8_serves_all_three(registry: Registry,
                                                tmp_path_factory: pytest.TempPathFactory,
                                                tmp_path: Path) -> None:
    root = tmp_path_factory.mktemp("recipes-arm64v8")
    with recipes_for(registry, root, "arm64v8", ("imagetrove",)) as arm64:
        build_and_verify(arm64, "imagetrove", tmp_path)  # smoke: all three serve, emulated
        facts = in_image(arm64, "imagetrove", "sh", "-c", "uname -m; dpkg --print-architecture")
        assert facts.split() == ["aarch64", "arm64"]

