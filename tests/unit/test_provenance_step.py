"""The provenance a run keeps for each staged image (pipeline/provenance_step.py): what it
states, read back from the file in the run folder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.unit.fakes import RecordingShell, fake_tools, run_folder
from xbuild.core.buildspec import Provenance
from xbuild.core.identity import Inputs, Resolution, SourceDigest
from xbuild.core.matrix import load_matrix
from xbuild.core.plan import make_plan
from xbuild.core.refs import Reference
from xbuild.core.results import Status, TargetResult
from xbuild.host.cmd import Completed
from xbuild.pipeline.provenance_step import ProvenanceWitness

COMMIT = "1" * 40
BASE, PARENT, IMAGE, IDENTITY = ("sha256:" + c * 64 for c in "bcde")
ZIP_SHA = "f" * 64
URL = "https://example.org/tool-1.0.zip"
DOC = {"namespace": "127.0.0.1:5000/ns", "tag": "t", "architectures": ["arm64v8"],
       "images": {"parent": {"context": "parent"},
                  "child": {"context": "child", "from": "parent",
                            "downloads": {"tool.zip": {"url": URL, "sha256": ZIP_SHA}}}}}


class DirtyShell(RecordingShell):
    """git says the checkout has a modified file."""

    def run(self, argv: Sequence[str], *, cwd: Path | None = None, check: bool = True,
            timeout: float = 600.0, output: Path | None = None,
            env: Mapping[str, str] | None = None, reads_only: bool = False) -> Completed:
        super().run(argv, cwd=cwd, check=check, timeout=timeout, output=output, env=env,
                    reads_only=reads_only)
        return Completed(exit_code=0, stdout=" M matrix.yml\n" if "status" in argv else "",
                         stderr="")


def witnessed(write_matrix: Callable[..., Path], tmp_path: Path) -> dict[str, Any]:
    path = write_matrix(DOC)
    matrix = load_matrix(path)
    child = next(t for t in make_plan(matrix).targets if t.image == "child")
    inputs = Inputs(source=SourceDigest(context="sha256:" + "1" * 64,
                                        dockerfile="sha256:" + "2" * 64, bases=()),
                    platform="linux/arm64/v8", build_args=(("A", "1"),),
                    downloads=(("tool.zip", ZIP_SHA),),
                    bases=(("debian:bookworm-slim", BASE),), parent=IDENTITY)
    resolution = Resolution(inputs={child.key: inputs}, identities={child.key: IDENTITY})
    run = run_folder(tmp_path)
    witness = ProvenanceWitness(matrix, resolution, run, Provenance(
        created="2026-01-01T00:00:00Z", revision=COMMIT, source="https://example.org/repo"),
        fake_tools(shell=DirtyShell()))
    result = TargetResult(target=child, status=Status.PUSHED, digest=IMAGE,
                          started=1_800_000_000.0, seconds=30.0, node="")
    witness(result, Reference.parse("127.0.0.1:5000/ns/parent").pinned(PARENT))
    written: dict[str, Any] = json.loads(run.evidence(child.key).provenance.read_text())
    written["matrix bytes"] = path.read_bytes()
    written["run name"] = run.path.name
    return written


def test_the_provenance_states_source_matrix_and_build(write_matrix: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    found = witnessed(write_matrix, tmp_path)
    external = found["buildDefinition"]["externalParameters"]
    assert external["source"] == {"uri": "https://example.org/repo", "revision": COMMIT,
                                  "dirty": True}
    assert external["matrix"] == {"path": "matrix.yml",
                                  "sha256": hashlib.sha256(found["matrix bytes"]).hexdigest()}
    assert (external["image"], external["dockerfile"], external["platform"]) == (
        "child", "child/Dockerfile", "linux/arm64/v8")
    assert external["buildArgs"] == {"A": "1"}
    assert found["buildDefinition"]["internalParameters"]["identity"] == IDENTITY


def test_the_provenance_names_every_dependency_by_digest(write_matrix: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    found = witnessed(write_matrix, tmp_path)
    dependencies = found["buildDefinition"]["resolvedDependencies"]
    assert {"uri": "oci://debian", "digest": {"sha256": "b" * 64}, "name": "base"} \
        in dependencies
    assert {"uri": "oci://127.0.0.1:5000/ns/parent", "digest": {"sha256": "c" * 64},
            "name": "parent"} in dependencies
    assert {"uri": URL, "digest": {"sha256": ZIP_SHA}, "name": "tool.zip"} in dependencies
    assert {"uri": f"git+https://example.org/repo@{COMMIT}", "digest": {"gitCommit": COMMIT},
            "name": "source"} in dependencies


def test_the_provenance_names_the_builder_and_the_run(write_matrix: Callable[..., Path],
                                                      tmp_path: Path) -> None:
    details = witnessed(write_matrix, tmp_path)
    run = details["runDetails"]
    assert run["builder"]["version"]["engine"] == "26.1.5"
    assert run["builder"]["version"]["buildx"] == "v0.13.1"
    assert run["metadata"] == {"invocationId": details["run name"],
                               "startedOn": "2027-01-15T08:00:00Z",
                               "finishedOn": "2027-01-15T08:00:30Z"}
