"""A signed release on the real engine and registry (README: Trust): cosign, run here as its
own process, accepts every arch's signature and attestations and the list's; `xbuild verify
--key` passes, and fails with another key, an arch re-listed to an unsigned image, or an
attestation deleted; a no-op rerun changes no tag; the key's password is nowhere."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.support.cosign_keys import key_pair
from tests.support.debian_rootfs import essential_context
from tests.support.run import Cli, FixtureMatrix, docker, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration
ARCHES = ("amd64", "arm32v7", "arm64v8")
PASSWORD = "pw-Zq8f3-never-shown"  # searched for in everything the runs leave
INSECURE = ("--allow-insecure-registry", "--allow-http-registry")
DOCKERFILE = """FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${TARGETARCH}${TARGETVARIANT} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


def cosign(*args: str, public: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cosign", *args, "--key", str(public),
                           "--insecure-ignore-tlog=true", *INSECURE],
                          capture_output=True, text=True, check=False, timeout=120)


def skopeo_digest(ref: str) -> str | None:
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{ref}"], capture_output=True, check=False)
    return ("sha256:" + hashlib.sha256(done.stdout).hexdigest()) if done.returncode == 0 \
        else None


def every_tag(repository: str) -> dict[str, str | None]:
    """Every tag of the repository (cosign's signature and attestation tags included) and
    the digest it names, read with skopeo."""
    done = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                           f"docker://{repository}"], capture_output=True, text=True,
                          check=True)
    return {tag: skopeo_digest(f"{repository}:{tag}") for tag in json.loads(done.stdout)["Tags"]}


def list_digests(ref: str) -> dict[str, str]:
    """arch -> digest of each entry of the list `ref`, read with skopeo."""
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{ref}"], capture_output=True, text=True, check=True)
    names = {("amd64", ""): "amd64", ("arm", "v7"): "arm32v7", ("arm64", ""): "arm64v8",
             ("arm64", "v8"): "arm64v8"}
    return {names[(m["platform"]["architecture"], m["platform"].get("variant", ""))]:
            m["digest"] for m in json.loads(done.stdout)["manifests"]}


def signed_release(root: Path, namespace: str, logs: Path, key: Path, *extra: str) -> Cli:
    return xbuild("-v", "build", "--push", "--sign-key", key, "-f", root / "matrix.yml",
                  "--namespace", namespace, "--log-dir", logs, "--json", *extra,
                  env={"COSIGN_PASSWORD": PASSWORD})


def statements(output: str) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(json.loads(line)["payload"]))
            for line in output.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def release(fixture_matrix: FixtureMatrix, registry: LocalRegistry,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`app` on three arches, released once with a key made here."""
    tmp = tmp_path_factory.mktemp("signed")
    root = tmp / "matrix"
    (root / "app").mkdir(parents=True)
    for binary in (fixture_matrix.path.parent / "base").glob("busybox-*"):
        shutil.copy2(binary, root / "app" / binary.name)
    (root / "app" / "Dockerfile").write_text(DOCKERFILE)
    (root / "matrix.yml").write_text(f"namespace: x\ntag: t\narchitectures: [{', '.join(ARCHES)}]"
                                     "\nimages:\n  app:\n    context: app\n")
    key, public = key_pair(tmp / "keys", PASSWORD)
    namespace = f"{registry.address}/signed"
    run = signed_release(root, namespace, tmp / "logs", key)
    assert run.exit_code == 0, run.stderr
    return {"root": root, "namespace": namespace, "key": key, "public": public, "run": run,
            "logs": tmp / "logs", "tmp": tmp, "repository": f"{namespace}/app"}


def test_cosign_accepts_every_arch_and_the_list(release: dict[str, Any]) -> None:
    repository, public = release["repository"], release["public"]
    arches = list_digests(f"{repository}:t")
    assert set(arches) == set(ARCHES)
    list_digest = skopeo_digest(f"{repository}:t")
    assert cosign("verify", f"{repository}@{list_digest}", public=public).returncode == 0
    for arch, digest in arches.items():
        image = f"{repository}@{digest}"
        assert cosign("verify", image, public=public).returncode == 0, arch
        for kind in ("cyclonedx", "slsaprovenance1"):
            done = cosign("verify-attestation", "--type", kind, image, public=public)
            assert done.returncode == 0, (arch, kind, done.stderr)
            found = statements(done.stdout)
            assert found and found[0]["subject"][0]["digest"]["sha256"] == digest[7:]


def test_the_provenance_states_the_identity_the_image_carries(release: dict[str, Any]) -> None:
    repository, public = release["repository"], release["public"]
    digest = list_digests(f"{repository}:t")["arm64v8"]
    done = cosign("verify-attestation", "--type", "slsaprovenance1", f"{repository}@{digest}",
                  public=public)
    predicate = statements(done.stdout)[0]["predicate"]
    config = subprocess.run(["skopeo", "inspect", "--config", "--raw", "--tls-verify=false",
                             f"docker://{repository}@{digest}"], capture_output=True,
                            text=True, check=True)
    labels = json.loads(config.stdout)["config"]["Labels"]
    assert predicate["buildDefinition"]["internalParameters"]["identity"] == \
        labels["xbuild.identity"]
    assert predicate["buildDefinition"]["externalParameters"]["platform"] == "linux/arm64/v8"


def test_xbuild_verify_passes_with_the_key_and_fails_with_another(
        release: dict[str, Any]) -> None:
    ref = f"{release['repository']}:t"
    good = xbuild("verify", ref, "--key", release["public"], "--json")
    assert good.exit_code == 0, good.stderr
    report: dict[str, Any] = good.json()
    trusted = {(a["arch"], c["check"]): c["status"] for a in report["arches"]
               for c in a["checks"] if c["check"] in ("signature", "sbom", "provenance")}
    assert trusted == {(arch, check): "pass" for arch in ARCHES
                       for check in ("signature", "sbom", "provenance")}
    assert report["list"] == [{"check": "signature", "status": "pass", "observed": "signed",
                               "expected": ""}]
    _, other = key_pair(release["tmp"] / "other", password="other")
    bad = xbuild("verify", ref, "--key", other)
    assert bad.exit_code == 7
    assert "amd64 signature" in bad.stderr and "list signature" in bad.stderr


def test_without_a_key_signatures_are_not_checked_never_passed(
        release: dict[str, Any]) -> None:
    done = xbuild("verify", f"{release['repository']}:t", "--json")
    assert done.exit_code == 0, done.stderr
    report: dict[str, Any] = done.json()
    statuses = {c["status"] for a in report["arches"] for c in a["checks"]
                if c["check"] in ("signature", "sbom", "provenance")}
    assert statuses == {"not checked"}


def test_a_noop_rerun_changes_no_tag(release: dict[str, Any]) -> None:
    before = every_tag(release["repository"])
    assert any(t.endswith(".sig") for t in before) and any(t.endswith(".att") for t in before)
    again = signed_release(release["root"], release["namespace"], release["logs"],
                           release["key"])
    assert again.exit_code == 0, again.stderr
    assert every_tag(release["repository"]) == before


def test_the_password_is_in_no_argv_log_json_or_attestation(release: dict[str, Any]) -> None:
    run: Cli = release["run"]
    assert PASSWORD not in run.stdout and PASSWORD not in run.stderr  # -v echoes every argv
    for path in release["logs"].rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    repository, public = release["repository"], release["public"]
    for digest in list_digests(f"{repository}:t").values():
        for kind in ("cyclonedx", "slsaprovenance1"):
            done = cosign("verify-attestation", "--type", kind, f"{repository}@{digest}",
                          public=public)
            assert PASSWORD not in done.stdout


def test_an_arch_listed_to_an_unsigned_image_fails_naming_it(
        release: dict[str, Any], tmp_path: Path) -> None:
    repository = release["repository"]
    arches = list_digests(f"{repository}:t")
    context = tmp_path / "unsigned"
    context.mkdir()
    shutil.copy2(release["root"] / "app" / "busybox-arm64", context / "busybox-arm64")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY busybox-arm64 /bin/busybox\n"
                                        'LABEL org.opencontainers.image.title="unsigned"\n')
    unsigned = f"{repository}:unsigned-arm64v8"
    assert docker("build", "-q", "--platform", "linux/arm64", "-t", unsigned,
                  str(context)).returncode == 0
    assert docker("push", "-q", unsigned).returncode == 0
    relisted = f"{repository}:relisted"
    made = docker("buildx", "imagetools", "create", "-t", relisted,
                  f"{repository}@{arches['amd64']}", f"{repository}@{arches['arm32v7']}",
                  f"{repository}@{skopeo_digest(unsigned)}")
    assert made.returncode == 0, made.stderr
    done = xbuild("verify", relisted, "--key", release["public"])
    assert done.exit_code == 7
    assert "arm64v8 signature" in done.stderr
    assert "amd64 signature" not in done.stderr


def test_a_deleted_attestation_fails(release: dict[str, Any]) -> None:
    """Last in this module: it deletes the arm32v7 SBOM attestation of the release."""
    repository = release["repository"]
    digest = list_digests(f"{repository}:t")["arm32v7"]
    attestation = f"docker://{repository}:{digest.replace(':', '-')}.att"
    deleted = subprocess.run(["skopeo", "delete", "--tls-verify=false", attestation],
                             capture_output=True, text=True, check=False)
    assert deleted.returncode == 0, deleted.stderr
    done = xbuild("verify", f"{repository}:t", "--key", release["public"])
    assert done.exit_code == 7
    assert "arm32v7 sbom" in done.stderr and "arm32v7 provenance" in done.stderr


@pytest.fixture(scope="module")
def debian_release(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory,
                   engine: None) -> dict[str, Any]:
    """bookworm's essential set (mmdebstrap, cached), released signed by xbuild (amd64)."""
    tmp = tmp_path_factory.mktemp("signed-debian")
    root = tmp / "matrix"
    root.mkdir()
    shutil.copytree(essential_context(tmp_path_factory, "deb"), root / "deb")
    (root / "matrix.yml").write_text("namespace: x\ntag: t\narchitectures: [amd64]\n"
                                     "images:\n  deb:\n    context: deb\n")
    key, public = key_pair(tmp / "keys", PASSWORD)
    namespace = f"{registry.address}/signed-debian"
    run = signed_release(root, namespace, tmp / "logs", key)
    assert run.exit_code == 0, run.stderr
    return {"repository": f"{namespace}/deb", "public": public}


def test_the_debian_sbom_lists_what_dpkg_says_and_is_cyclonedx_1_6(
        debian_release: dict[str, Any]) -> None:
    repository, public = debian_release["repository"], debian_release["public"]
    digest = list_digests(f"{repository}:t")["amd64"]
    done = cosign("verify-attestation", "--type", "cyclonedx", f"{repository}@{digest}",
                  public=public)
    assert done.returncode == 0, done.stderr
    bom = statements(done.stdout)[0]["predicate"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None
    listed = {f"{c['name']} {c['version']}" for c in bom["components"]
              if c.get("purl", "").startswith("pkg:deb/")}
    said = docker("run", "--rm", "--network", "none", f"{repository}@{digest}", "dpkg-query",
                  "-W", "-f", "${Package} ${Version}\\n")
    assert said.returncode == 0, said.stderr
    assert listed == set(said.stdout.splitlines()) and len(listed) > 10
    verified = xbuild("verify", f"{repository}:t", "--key", public)
    assert verified.exit_code == 0, verified.stderr
