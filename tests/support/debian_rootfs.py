"""A small Debian filesystem for the tests that read dpkg's view of an image: bookworm's
essential set (about 20 packages) for amd64, bootstrapped once with mmdebstrap from Debian's
mirror and cached."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

MIRROR = "http://deb.debian.org/debian"


def essential_context(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A build context whose Dockerfile is `FROM scratch` plus that filesystem."""
    cache = Path(os.environ.get("XBUILD_TEST_CACHE", tmp_path_factory.mktemp("cache")))
    rootfs = cache / "sbom-bookworm-essential-amd64.tar"
    if not rootfs.is_file():
        partial = rootfs.with_suffix(".part")
        subprocess.run(["mmdebstrap", "--variant=essential", "--architectures=amd64",
                        "--format=tar", "--", "bookworm", str(partial), MIRROR],
                       check=True, capture_output=True, timeout=900)
        partial.rename(rootfs)
    context = tmp_path_factory.mktemp(name)
    shutil.copyfile(rootfs, context / "rootfs.tar")  # a link out of the context is not sent
    (context / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n")
    return context
