"""The CIRR stack on arm64v8, everything under QEMU: the same proof as the integration tier's
amd64 run (tests/integration/test_cirr_stack.py), with emulation's longer timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cirr import Registry, build_images, prove_dicom_flows
from tests.support.cirr_stack import compose_plugin, stack_up

pytestmark = pytest.mark.e2e
__all__ = ["compose_plugin"]  # the module's autouse fixture, re-exported for pytest


def test_cirr_stack_routes_a_study_from_the_pacs_on_arm64v8(registry: Registry,
                                                            tmp_path: Path) -> None:
    namespace = build_images(registry, "arm64v8", tmp_path)
    with stack_up(namespace, "arm64v8", tmp_path) as stack:
        prove_dicom_flows(stack.container, timeout=600)
