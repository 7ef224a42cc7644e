"""`xbuild all --push` on the fixture matrix, against the real engine, registry and QEMU."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.run import Cli, FixtureMatrix, docker, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

ARCHES = {"amd64": "linux/amd64", "arm32v7": "linux/arm/v7", "arm64v8": "linux/arm64"}
FULL = ("base", "child", "grandchild")
Run = tuple[Cli, str, FixtureMatrix]


@pytest.fixture(scope="module")
def pushed(registry: LocalRegistry, fixture_matrix: FixtureMatrix,
           tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One `xbuild all --push` of the whole fixture matrix to the local registry.

    A stale `xbuild-test/base:latest` is planted in the engine first: the name the child's
    Dockerfile uses. Pinning must make the run ignore it.
    """
    stale = docker("buildx", "build", "--platform", "linux/amd64", "--build-arg", "VALUE=stale",
                   "-t", "xbuild-test/base:latest", str(fixture_matrix.path.parent / "base"))
    assert stale.returncode == 0, stale.stderr
    namespace = f"{registry.address}/xbuild-test"
    logs = tmp_path_factory.mktemp("logs")
    run = xbuild("all", "--push", "-f", fixture_matrix.path, "--namespace", namespace,
                 "--log-dir", logs, "--json")
    return run, namespace, fixture_matrix


def _targets(run: Cli) -> dict[tuple[str, str], dict[str, Any]]:
    report = run.json()
    targets = report["targets"]
    assert isinstance(targets, list)
    return {(t["image"], t["arch"]): t for t in targets}


def _lists(run: Cli) -> dict[str, dict[str, Any]]:
    lists = run.json()["lists"]
    assert isinstance(lists, list)
    return {entry["image"]: entry for entry in lists}


def test_exit_code_says_partial_failure(pushed: Run) -> None:
    run, _, _ = pushed
    assert run.exit_code == 5, run.stderr
    assert "Traceback" not in run.stderr


def test_every_target_but_the_failing_arch_and_its_dependent_is_pushed(pushed: Run) -> None:
    run, _, _ = pushed
    targets = _targets(run)
    assert targets[("flaky", "arm32v7")]["status"] == "failed"
    assert "deliberately fails on arm32v7" in targets[("flaky", "arm32v7")]["detail"]
    assert targets[("flaky-kid", "arm32v7")]["status"] == "skipped"
    assert "flaky x arm32v7" in targets[("flaky-kid", "arm32v7")]["detail"]
    others = {k: t["status"] for k, t in targets.items() if k[1] != "arm32v7" or k[0] in FULL}
    assert set(others.values()) == {"pushed"}, others
    assert len(targets) == 6 * 3 - 1  # duo has two arches


def test_failed_target_log_is_kept(pushed: Run) -> None:
    run, _, _ = pushed
    failed = _targets(run)[("flaky", "arm32v7")]
    text = Path(failed["log"]).read_text(encoding="utf-8")
    assert text.startswith("+ docker buildx build")
    assert "deliberately fails on arm32v7" in text


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_grandchild_holds_what_base_wrote_in_this_run(pushed: Run, arch: str) -> None:
    _, namespace, matrix = pushed
    ref = f"{namespace}/grandchild:latest-{arch}"
    seen = docker("run", "--rm", "--network", "none", "--platform", ARCHES[arch], ref,
                  "cat", "/xbuild/grandchild-saw", "/xbuild/base-arch")
    assert seen.returncode == 0, seen.stderr
    value, base_arch = seen.stdout.split()
    assert value == matrix.value  # not "stale": the parent built in this run was used
    assert base_arch == {"amd64": "x86_64", "arm32v7": "armv7l", "arm64v8": "aarch64"}[arch]


def _platforms_buildx(ref: str) -> set[str]:
    raw = docker("buildx", "imagetools", "inspect", "--raw", ref)
    assert raw.returncode == 0, raw.stderr
    return _platforms_of(json.loads(raw.stdout))


def _platforms_skopeo(ref: str) -> set[str]:
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True, text=True, check=False)
    assert raw.returncode == 0, raw.stderr
    return _platforms_of(json.loads(raw.stdout))


def _platforms_of(index: dict[str, Any]) -> set[str]:
    assert "manifests" in index, f"not a manifest list: {index.get('mediaType')}"
    found = set()
    for entry in index["manifests"]:
        p = entry["platform"]
        if p["os"] == "unknown":  # attestations
            continue
        found.add("/".join(x for x in (p["os"], p["architecture"], p.get("variant", "")) if x))
    return found


@pytest.mark.parametrize("reader", [_platforms_buildx, _platforms_skopeo], ids=["buildx", "skopeo"])
@pytest.mark.parametrize(("image", "expected"), [
    ("base", {"linux/amd64", "linux/arm/v7", "linux/arm64"}),
    ("grandchild", {"linux/amd64", "linux/arm/v7", "linux/arm64"}),
    ("duo", {"linux/amd64", "linux/arm64"}),
])
def test_manifest_lists_have_exactly_the_expected_platforms(
        pushed: Run, reader: Any, image: str, expected: set[str]) -> None:
    _, namespace, _ = pushed
    assert reader(f"{namespace}/{image}:latest") == expected


@pytest.mark.parametrize("image", ["flaky", "flaky-kid"])
def test_image_with_a_failed_arch_gets_no_list(pushed: Run, image: str) -> None:
    run, namespace, _ = pushed
    assert _lists(run)[image]["status"] == "withheld"
    missing = docker("buildx", "imagetools", "inspect", "--raw", f"{namespace}/{image}:latest")
    assert missing.returncode != 0
    assert "not found" in missing.stderr.lower()


def test_per_arch_build_args_and_labels(pushed: Run) -> None:
    _, namespace, _ = pushed
    for arch, expected in (("amd64", "common"), ("arm64v8", "arm64-only")):
        ref = f"{namespace}/duo:latest-{arch}"
        value = docker("run", "--rm", "--platform", ARCHES[arch], ref, "cat", "/xbuild/duo-value")
        assert value.stdout.strip() == expected
        labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref)
        found = json.loads(labels.stdout)
        assert found["architecture"] == arch
        assert found["org.opencontainers.image.title"] == "duo"
        assert found["org.opencontainers.image.version"] == "latest"
        assert found["org.opencontainers.image.created"].endswith("Z")


def test_manifest_merge_step_keeps_a_current_list_and_withholds(pushed: Run) -> None:
    run, namespace, matrix = pushed
    merged = xbuild("manifest", "duo", "-f", matrix.path, "--namespace", namespace, "--json")
    assert merged.exit_code == 0, merged.stderr
    # `all --push` published duo's list over exactly these images: nothing to push again
    assert json.loads(merged.stdout)[0]["status"] == "up to date"
    # flaky failed on arm32v7: its other arches wait in staging, and no public tag of it moved
    assert docker("buildx", "imagetools", "inspect", f"{namespace}/flaky:latest-amd64"
                  ).returncode != 0
    built = Path(str(run.json()["run_dir"])) / "build-record.json"
    withheld = xbuild("manifest", "flaky", "-f", matrix.path, "--namespace", namespace,
                      "--from", built)
    assert withheld.exit_code == 6, withheld.stderr
    assert "no arm32v7 (not in the build records)" in withheld.stderr
    partial = xbuild("manifest", "flaky", "-f", matrix.path, "--namespace", namespace,
                     "--allow-partial", "--from", built)
    assert partial.exit_code == 5, partial.stderr  # published, and says it is partial
    assert _platforms_buildx(f"{namespace}/flaky:latest") == {"linux/amd64", "linux/arm64"}
    assert docker("buildx", "imagetools", "inspect", f"{namespace}/flaky:latest-amd64"
                  ).returncode == 0  # its per-arch tags moved with the list


def test_dry_run_runs_nothing(registry: LocalRegistry, fixture_matrix: FixtureMatrix) -> None:
    namespace = f"{registry.address}/dry-run-only"
    listing = ("image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    before = sorted(docker(*listing).stdout.splitlines())
    run = xbuild("all", "--push", "--dry-run", "-f", fixture_matrix.path, "--namespace", namespace)
    assert run.exit_code == 0, run.stderr
    assert run.stderr.count("docker buildx build") == 17
    # BuildKit's unsigned attestations would turn a per-arch image into an index
    assert run.stderr.count("--provenance=false") == run.stderr.count("--sbom=false") == 17
    assert "docker buildx imagetools create" in run.stderr
    assert sorted(docker(*listing).stdout.splitlines()) == before
    catalog = subprocess.run(["curl", "-s", f"http://{registry.address}/v2/_catalog"],
                             capture_output=True, text=True, check=True).stdout
    assert "dry-run-only" not in catalog


def test_without_push_the_local_parent_is_used(fixture_matrix: FixtureMatrix) -> None:
    namespace = "xbuild-local-test"
    run = xbuild("build", "grandchild", "--arch", "arm64v8", "-f", fixture_matrix.path,
                 "--namespace", namespace)
    assert run.exit_code == 0, run.stderr
    seen = docker("run", "--rm", "--platform", "linux/arm64",
                  f"{namespace}/grandchild:latest-arm64v8", "cat", "/xbuild/grandchild-saw")
    assert seen.stdout.strip() == fixture_matrix.value


def test_qemu_reports_each_arch_running(fixture_matrix: FixtureMatrix) -> None:
    run = xbuild("qemu", "-f", fixture_matrix.path)
    assert run.exit_code == 0, run.stderr
    for answer in ("armv7l", "aarch64"):
        assert answer in run.stderr
    # How they run, as the probe with QEMU_VERSION set finds it: this amd64 host has no
    # AArch32, so both ARM arches are emulated (issue 21).
    assert re.search(r"runs: emulated \(qemu-arm version [\d.]+\)", run.stderr), run.stderr
    assert re.search(r"runs: emulated \(qemu-aarch64 version [\d.]+\)", run.stderr), run.stderr


def test_all_push_publishes_every_target_and_list_and_exits_0(
        registry: LocalRegistry, fixture_matrix: FixtureMatrix, tmp_path: Path) -> None:
    """The fixture matrix without its deliberately failing image: everything must land."""
    text = fixture_matrix.path.read_text()
    clean = fixture_matrix.path.with_name("clean.yml")
    clean.write_text("\n".join(ln for ln in text.splitlines()
                               if not ln.lstrip().startswith("flaky")))
    namespace = f"{registry.address}/clean"
    run = xbuild("all", "--push", "--verify", "-f", clean, "--namespace", namespace, "--json",
                 "--log-dir", tmp_path)
    assert run.exit_code == 0, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    assert [t["status"] for t in report["targets"]] == ["pushed"] * 11
    assert {entry["image"]: entry["status"] for entry in report["lists"]} == {
        "base": "published", "child": "published", "grandchild": "published",
        "duo": "published"}
    assert report["verified"] is True
    assert run.stderr.count(": verified") == 4
    assert (tmp_path / next(tmp_path.iterdir()).name / "summary.json").is_file()
    for image in ("base", "child", "grandchild", "duo"):
        assert _platforms_buildx(f"{namespace}/{image}:latest")


def test_verify_judges_a_partial_list_on_the_arches_it_has(
        registry: LocalRegistry, fixture_matrix: FixtureMatrix, tmp_path: Path) -> None:
    run = xbuild("build", "flaky", "--push", "--allow-partial", "--verify", "--json",
                 "-f", fixture_matrix.path, "--namespace", f"{registry.address}/partial",
                 "--log-dir", tmp_path)
    assert run.exit_code == 5, run.stderr  # a target failed; the published list is honest
    report: dict[str, Any] = json.loads(run.stdout)
    assert [entry["status"] for entry in report["lists"]] == ["published (partial)"]
    assert report["verified"] is True
