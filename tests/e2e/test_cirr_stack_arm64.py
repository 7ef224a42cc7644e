"""The CIRR stack on arm64v8, everything under QEMU: the same proof as the integration tier's
amd64 run (tests/integration/test_cirr_stack.py), with emulation's longer timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cirr import Registry
from tests.support.cirr_stack import compose_plugin, routes_a_study

pytestmark = pytest.mark.e2e
__all__ = ["compose_plugin"]  # the module's autouse fixture, re-exported for pytest


def test_cirr_stack_routes_a_study_from_the_pacs_on_arm64v8(registry: Registry,
                                                            tmp_path: Path) -> None:
    routes_a_study(registry, "arm64v8", tmp_path, timeout=600)
