"""The signed final step (engine/signing.py, engine/publish.py): what is signed, in which
order against the tag moves, and what a missing SBOM or a failing cosign leaves behind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import pytest

from tests.unit.fakes import (
    FakeEngine,
    RecordingReporter,
    arch,
    digest_for,
    run_folder,
    run_guarded,
)
from xbuild.core.buildspec import Provenance
from xbuild.core.errors import CommandFailed
from xbuild.core.identity import Resolution
from xbuild.core.matrix import load_matrix
from xbuild.core.plan import ManifestList, make_plan
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import ListStatus
from xbuild.core.settings import BuildSettings
from xbuild.engine.engines import Publisher, Signer, Tagger
from xbuild.engine.publish import publish_one
from xbuild.engine.runner import RunOptions
from xbuild.engine.signing import Evidence, Signing

AMD64, ARM64 = arch("amd64"), arch("arm64v8")
REPO = "127.0.0.1:5000/ns/app"
OLD, NEW_AMD, NEW_ARM, LIST = ("sha256:" + c * 64 for c in "0abf")


class Registry:
    """Publisher, Tagger and Signer at once, each call logged in one timeline."""

    def __init__(self, *, fail: str = "") -> None:
        self.calls: list[str] = []
        self.fail = fail  # a call that fails, e.g. "attest cyclonedx"

    def _log(self, call: str) -> None:
        self.calls.append(call)
        if self.fail and call.startswith(self.fail):
            raise CommandFailed(call, "error: cosign said no")

    def create_list(self, ref: Reference, sources: Sequence[Reference],
                    log: TextIO | None = None) -> None:
        self._log(f"list {ref.tag}")

    def put(self, source: Reference, tag: Reference) -> None:
        self._log(f"put {tag.tag} {source.digest[7:8]}")

    def sign(self, image: Reference) -> None:
        self._log(f"sign {image.digest[7:8]}")

    def attest(self, image: Reference, predicate: Path, kind: str) -> None:
        self._log(f"attest {kind} {image.digest[7:8]} {predicate.name}")


def _conforms(registry: Registry) -> tuple[Publisher, Tagger, Signer]:
    return registry, registry, registry  # mypy: the fake is each of the three


def manifest() -> ManifestList:
    ref = Reference(repository=REPO, tag="t")
    return ManifestList(image="app", ref=ref,
                        entries=((AMD64, Reference(repository=REPO, tag="t-amd64")),
                                 (ARM64, Reference(repository=REPO, tag="t-arm64v8"))))


def evidence_in(folder: Path, *, made: bool = True) -> Evidence:
    folder.mkdir(parents=True, exist_ok=True)
    sbom, provenance = folder / "sbom.json", folder / "slsa.json"
    if made:
        sbom.write_text("{}")
        provenance.write_text("{}")
    return Evidence(sbom=sbom, provenance=provenance)


def publish(registry: Registry, tmp_path: Path, *, new: Sequence[str] = ("amd", "arm"),
            current: dict[str, str] | None = None, dry_run: bool = False,
            evidence_made: bool = True, signed: bool = True) -> ListStatus:
    pinned = {"amd": (AMD64, NEW_AMD), "arm": (ARM64, NEW_ARM)}
    good: list[tuple[Arch, Reference]] = [(a, Reference(repository=REPO, digest=d))
                                          for a, d in pinned.values()]
    signing = Signing(signer=lambda: registry,
                      evidence=lambda key: evidence_in(tmp_path / key, made=evidence_made),
                      digest_of=lambda ref: LIST) if signed else None
    result = publish_one(manifest(), good, [], registry, registry, allow_partial=False,
                         dry_run=dry_run, current=current or {}, signing=signing,
                         new=[(f"app-{pinned[n][0].name}",
                               Reference(repository=REPO, digest=pinned[n][1])) for n in new])
    return result.status


def test_images_are_attested_and_signed_and_the_list_signed_before_any_tag_moves(
        tmp_path: Path) -> None:
    registry = Registry()
    assert publish(registry, tmp_path) is ListStatus.PUBLISHED
    images, rest = registry.calls[:6], registry.calls[6:]
    for digest in "ab":  # the images are signed side by side; each one's calls in order
        mine = [c for c in images if f" {digest} " in f"{c} "]
        assert mine == [f"attest cyclonedx {digest} sbom.json",
                        f"attest slsaprovenance1 {digest} slsa.json", f"sign {digest}"]
    assert rest == ["put t-amd64 a", "put t-arm64v8 b", "list staging-t", "sign f", "put t f"]


def test_only_new_images_are_signed(tmp_path: Path) -> None:
    registry = Registry()
    publish(registry, tmp_path, new=("arm",), current={f"{REPO}:t-amd64": NEW_AMD})
    assert not [c for c in registry.calls if c.endswith(" a") or " a " in c]
    assert "sign b" in registry.calls and "put t-amd64 a" not in registry.calls


def test_a_missing_sbom_signs_nothing_and_moves_no_tag(tmp_path: Path) -> None:
    registry = Registry()
    assert publish(registry, tmp_path, evidence_made=False) is ListStatus.FAILED
    assert registry.calls == []


@pytest.mark.parametrize("failing", ["attest cyclonedx b", "sign b"])
def test_a_failing_cosign_moves_no_tag(tmp_path: Path, failing: str) -> None:
    registry = Registry(fail=failing)
    assert publish(registry, tmp_path) is ListStatus.FAILED
    assert not [c for c in registry.calls if c.startswith(("put", "list"))]


def test_a_failing_list_signature_leaves_the_public_list_alone(tmp_path: Path) -> None:
    registry = Registry(fail="sign f")
    assert publish(registry, tmp_path) is ListStatus.FAILED
    assert "put t f" not in registry.calls


def test_unsigned_the_list_is_made_under_its_public_tag(tmp_path: Path) -> None:
    registry = Registry()
    publish(registry, tmp_path, signed=False)
    assert registry.calls == ["put t-amd64 a", "put t-arm64v8 b", "list t"]


def test_a_dry_run_signs_nothing(tmp_path: Path) -> None:
    registry = Registry()
    assert publish(registry, tmp_path, dry_run=True) is ListStatus.DRY_RUN
    assert not [c for c in registry.calls if c.startswith(("sign", "attest"))]


def test_a_run_signs_what_it_staged_and_nothing_up_to_date(
        write_matrix: Callable[..., Path], tmp_path: Path) -> None:
    """`one` is published with this identity, its list unchanged: none of it is signed;
    `two` was built here: its two images and its list are."""
    doc = {"namespace": "127.0.0.1:5000/ns", "tag": "t", "architectures": ["amd64", "arm64v8"],
           "images": {"one": {"context": "one"}, "two": {"context": "two"}}}
    plan = make_plan(load_matrix(write_matrix(doc)))
    published = {"one-amd64": NEW_AMD, "one-arm64v8": NEW_ARM}
    resolution = Resolution(up_to_date=published, lists={
        "127.0.0.1:5000/ns/one:t": frozenset(published.values())})
    registry = Registry()
    engine = FakeEngine()
    signing = Signing(signer=lambda: registry,
                      evidence=lambda key: evidence_in(tmp_path / "evidence" / key),
                      digest_of=lambda ref: LIST)
    options = RunOptions(settings=BuildSettings(push=True), logs=run_folder(tmp_path),
                         provenance=Provenance(created="2026-01-01T00:00:00Z"),
                         native=(AMD64,), resolution=resolution, signing=signing)
    report = run_guarded(plan, engine, RecordingReporter(), options)
    assert {r.manifest.image: r.status for r in report.lists} == {
        "one": ListStatus.UP_TO_DATE, "two": ListStatus.PUBLISHED}
    built = {digest_for(f"127.0.0.1:5000/ns/two:staging-t-{a}")[7:8] for a in ("amd64",
                                                                             "arm64v8")}
    assert {c.split()[1] for c in registry.calls if c.startswith("sign")} == {*built, "f"}
    assert not [c for c in registry.calls if c.endswith((" a", " b"))]
