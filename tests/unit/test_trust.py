"""verify's trust checks (core/trust.py), the verify commands a signed run prints, and the
options that ask for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_cli_plan import assert_one_line_error, runner
from xbuild.cli import app
from xbuild.core import trust
from xbuild.core.checks import Verdict
from xbuild.core.inventory import DebPackage, Inventory
from xbuild.core.refs import Reference
from xbuild.core.settings import SigningSettings
from xbuild.pipeline.trust_step import keyless_problem, verify_commands

DIGEST = "sha256:" + "c" * 64
OTHER = "sha256:" + "d" * 64
COMMIT, IDENTITY = "1" * 40, "sha256:" + "e" * 64
LABELS = {"org.opencontainers.image.revision": COMMIT, "xbuild.identity": IDENTITY}
OPENSSL = DebPackage(name="openssl", version="3.0.15-1~deb12u1", architecture="armhf",
                     source="openssl")


def statement(digest: str, predicate: Any) -> dict[str, Any]:
    return {"_type": "https://in-toto.io/Statement/v1", "predicate": predicate,
            "subject": [{"name": "r", "digest": {"sha256": digest.removeprefix("sha256:")}}]}


def bom(*purls: str) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "components": [{"purl": p} for p in purls]}


def provenance(commit: str, identity: str) -> dict[str, Any]:
    return {"buildDefinition": {"externalParameters": {"source": {"revision": commit}},
                                "internalParameters": {"identity": identity}}}


OPENSSL_PURL = "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=armhf&distro=debian-12"


def test_only_statements_naming_the_digest_count() -> None:
    found = trust.naming([statement(OTHER, bom()), statement(DIGEST, bom(OPENSSL_PURL)),
                          {"subject": "not a list"}, {"subject": [{"digest": "x"}]},
                          statement(DIGEST, ["not", "a", "mapping"])], DIGEST)
    assert found == [bom(OPENSSL_PURL)]


def test_an_sbom_listing_what_dpkg_says_passes() -> None:
    check = trust.sbom_check([bom(OPENSSL_PURL)], "", Inventory(packages=(OPENSSL,)))
    assert check.status is Verdict.PASS


def test_an_sbom_missing_a_package_fails_naming_it() -> None:
    check = trust.sbom_check([bom()], "", Inventory(packages=(OPENSSL,)))
    assert check.status is Verdict.FAIL
    assert "not in the SBOM: openssl 3.0.15-1~deb12u1 (armhf)" in check.observed


def test_no_sbom_attestation_fails_with_cosigns_reason() -> None:
    assert trust.sbom_check([], "", Inventory()).status is Verdict.FAIL
    check = trust.sbom_check([], "no matching attestations", Inventory())
    assert check.status is Verdict.FAIL and check.observed == "no matching attestations"


def test_an_unreadable_image_leaves_the_sbom_not_checked_never_passed() -> None:
    assert trust.sbom_check([bom()], "", None).status is Verdict.NOT_CHECKED


def test_provenance_matching_the_labels_passes() -> None:
    assert trust.provenance_check([provenance(COMMIT, IDENTITY)], "", LABELS).status \
        is Verdict.PASS


@pytest.mark.parametrize("stated", [provenance("2" * 40, IDENTITY), provenance(COMMIT, OTHER),
                                    {"buildDefinition": "hostile"}])
def test_provenance_stating_another_commit_or_identity_fails(stated: dict[str, Any]) -> None:
    check = trust.provenance_check([stated], "", LABELS)
    assert check.status is Verdict.FAIL and "labels' commit 111111111111" in check.expected


def test_signatures_not_asked_for_are_not_checked() -> None:
    assert {c.status for c in trust.not_checked()} == {Verdict.NOT_CHECKED}
    assert {c.check for c in trust.not_checked()} == {"signature", "sbom", "provenance"}


def test_key_verify_commands_name_the_public_key_and_skip_the_log() -> None:
    ref = Reference.parse("127.0.0.1:5000/ns/orthanc:t")
    lines = verify_commands([ref], SigningSettings(key=Path("keys/cosign.key")), {})
    assert lines[0] == "xbuild verify 127.0.0.1:5000/ns/orthanc:t --key keys/cosign.pub"
    assert lines[1] == ("cosign verify --key keys/cosign.pub --insecure-ignore-tlog=true "
                        "--allow-http-registry --allow-insecure-registry "
                        "127.0.0.1:5000/ns/orthanc:t")
    assert "--type cyclonedx" in lines[2] and "--type slsaprovenance1" in lines[3]


def test_keyless_verify_commands_name_the_workflow_identity() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_WORKFLOW_REF": "o/r/.github/workflows/images.yml@refs/heads/main"}
    lines = verify_commands([Reference.parse("o/orthanc:t")], SigningSettings(keyless=True),
                            env)
    assert lines[1] == ("cosign verify --certificate-identity https://github.com/o/r/.github/"
                        "workflows/images.yml@refs/heads/main --certificate-oidc-issuer "
                        "https://token.actions.githubusercontent.com o/orthanc:t")


@pytest.mark.parametrize("args", [
    ["--key", "cosign.pub", "--certificate-identity", "x", "--certificate-oidc-issuer", "y"],
    ["--certificate-identity", "x"],
    ["--key", "no-such.pub"],
])
def test_contradicting_or_missing_trust_options_exit_2_before_anything_runs(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cosign.pub").write_text("key")
    result = runner.invoke(app, ["verify", "ns/app:t", *args])
    assert_one_line_error(result, 2)


@pytest.mark.parametrize(("env", "works"), [
    ({}, False),
    ({"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x"}, False),  # a job without id-token: write
    ({"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}, True),
    ({"SIGSTORE_ID_TOKEN": "eyJ"}, True),
])
def test_keyless_signing_needs_an_oidc_token_before_anything_runs(env: dict[str, str],
                                                                  works: bool) -> None:
    assert (keyless_problem(env) == "") is works
