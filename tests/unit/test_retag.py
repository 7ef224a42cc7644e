"""Moving a tag: skopeo puts the pinned manifest under the tag, digests preserved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.unit.fakes import RecordingShell
from xbuild.core.errors import CommandFailed
from xbuild.core.refs import Reference
from xbuild.engine.retry import RetryPolicy
from xbuild.host.cmd import Completed
from xbuild.host.retag import Retagger

DIGEST = "sha256:" + "a" * 64
SOURCE = Reference.parse(f"127.0.0.1:5000/ns/orthanc@{DIGEST}")
TAG = Reference.parse("127.0.0.1:5000/ns/orthanc:latest-arm64v8")


def test_the_manifest_is_copied_under_the_tag_with_its_digest() -> None:
    """--all: a list is copied whole (a signed list keeps its digest, so its signature)."""
    shell = RecordingShell()
    Retagger(shell).put(SOURCE, TAG)
    assert shell.commands == [(
        "skopeo", "copy", "--all", "--preserve-digests", "--quiet", "--src-tls-verify=false",
        "--dest-tls-verify=false", f"docker://127.0.0.1:5000/ns/orthanc@{DIGEST}",
        "docker://127.0.0.1:5000/ns/orthanc:latest-arm64v8")]


def test_a_remote_registry_is_spoken_to_over_tls() -> None:
    shell = RecordingShell()
    Retagger(shell).put(Reference.parse(f"registry.example.org/ns/orthanc@{DIGEST}"),
                        Reference.parse("registry.example.org/ns/orthanc:latest-amd64"))
    assert not any("tls-verify" in arg for arg in shell.commands[0])


@pytest.mark.parametrize(("source", "tag"), [
    pytest.param(Reference.parse("127.0.0.1:5000/ns/orthanc:staging"), TAG, id="unpinned-source"),
    pytest.param(SOURCE, SOURCE, id="pinned-destination"),
])
def test_only_a_pinned_image_goes_under_a_plain_tag(source: Reference, tag: Reference) -> None:
    with pytest.raises(ValueError, match="pinned source and a plain tag"):
        Retagger(RecordingShell()).put(source, tag)


class FlakyShell(RecordingShell):
    """Fails its first `failures` commands with `said`."""

    def __init__(self, failures: int, said: str) -> None:
        super().__init__()
        self.failures, self.said = failures, said

    def run(self, argv: Sequence[str], *, cwd: Path | None = None, check: bool = True,
            timeout: float = 600.0, output: Path | None = None,
            env: Mapping[str, str] | None = None, reads_only: bool = False) -> Completed:
        self.commands.append(tuple(argv))
        if len(self.commands) <= self.failures:
            raise CommandFailed(" ".join(argv), self.said)
        return Completed(exit_code=0, stdout="", stderr="")


FAST = RetryPolicy(first_wait=0.001, max_wait=0.001)


def test_a_transient_fault_is_retried() -> None:
    shell = FlakyShell(2, "received unexpected HTTP status: 503 Service Unavailable")
    Retagger(shell, FAST).put(SOURCE, TAG)
    assert len(shell.commands) == 3


def test_a_refusal_is_not_retried() -> None:
    shell = FlakyShell(5, "unauthorized: authentication required")
    with pytest.raises(CommandFailed, match="unauthorized"):
        Retagger(shell, FAST).put(SOURCE, TAG)
    assert len(shell.commands) == 1
