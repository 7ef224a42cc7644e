"""cosign command lines: what is signed, how it is checked, and where the password goes."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.unit.fakes import RecordingShell
from xbuild.core.refs import Reference
from xbuild.host.cmd import Completed, Shell
from xbuild.host.cosign import Cosign, SigningKey, Trust, statements

DIGEST = "sha256:" + "b" * 64
LOCAL = Reference.parse(f"127.0.0.1:5000/ns/orthanc@{DIGEST}")
REMOTE = Reference.parse(f"docker.io/derekmerck/orthanc@{DIGEST}")
PASSWORD = "correct horse battery staple"


class EnvShell(Shell):
    """Runs nothing; keeps each argv with the environment it was given, answers `stdout`."""

    def __init__(self, stdout: str = "") -> None:
        super().__init__()
        self.calls: list[tuple[tuple[str, ...], Mapping[str, str] | None]] = []
        self.stdout = stdout

    def run(self, argv: Sequence[str], *, cwd: Path | None = None, check: bool = True,
            timeout: float = 600.0, output: Path | None = None,
            env: Mapping[str, str] | None = None, reads_only: bool = False) -> Completed:
        self.calls.append((tuple(argv), env))
        return Completed(exit_code=0, stdout=self.stdout, stderr="")


def test_key_signing_keeps_the_password_off_argv() -> None:
    shell = EnvShell()
    Cosign(shell, key=SigningKey(path=Path("/keys/cosign.key"), password=PASSWORD)).sign(LOCAL)
    argv, env = shell.calls[0]
    assert argv == ("cosign", "sign", "--yes", "--key", "/keys/cosign.key",
                    "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry",
                    f"127.0.0.1:5000/ns/orthanc@{DIGEST}")
    assert env is not None and env["COSIGN_PASSWORD"] == PASSWORD
    assert not any(PASSWORD in arg for arg in argv)


def test_keyless_signing_uses_the_ambient_identity() -> None:
    shell = EnvShell()
    Cosign(shell).sign(REMOTE)
    assert shell.calls == [(("cosign", "sign", "--yes", f"docker.io/derekmerck/orthanc@{DIGEST}"),
                            None)]


def test_an_attestation_names_its_type_and_predicate() -> None:
    shell = EnvShell()
    Cosign(shell, key=SigningKey(path=Path("k.key"))).attest(REMOTE, Path("/run/sbom.json"),
                                                              "cyclonedx")
    assert shell.calls[0][0] == ("cosign", "attest", "--yes", "--key", "k.key",
                                 "--tlog-upload=false", "--type", "cyclonedx", "--predicate",
                                 "/run/sbom.json", f"docker.io/derekmerck/orthanc@{DIGEST}")


@pytest.mark.parametrize(("trust", "flags"), [
    pytest.param(Trust(key=Path("cosign.pub")),
                 ("--key", "cosign.pub", "--insecure-ignore-tlog=true"), id="key"),
    pytest.param(Trust(identity="https://github.com/o/r/.github/workflows/images.yml@refs/heads/main",
                       issuer="https://token.actions.githubusercontent.com"),
                 ("--certificate-identity",
                  "https://github.com/o/r/.github/workflows/images.yml@refs/heads/main",
                  "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"),
                 id="keyless"),
])
def test_verification_names_whom_to_trust(trust: Trust, flags: tuple[str, ...]) -> None:
    shell = EnvShell()
    Cosign(shell).verify(REMOTE, trust)
    assert shell.calls[0][0] == ("cosign", "verify", *flags, "--output", "json",
                                 f"docker.io/derekmerck/orthanc@{DIGEST}")


def test_only_pinned_images_are_signed() -> None:
    with pytest.raises(ValueError, match="by digest only"):
        Cosign(EnvShell()).sign(Reference.parse("127.0.0.1:5000/ns/orthanc:latest"))


def envelope(payload: object) -> str:
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": encoded})


def test_statements_are_read_from_each_envelope() -> None:
    first = {"predicateType": "https://cyclonedx.org/bom", "subject": []}
    second = {"predicateType": "https://slsa.dev/provenance/v1", "subject": []}
    output = "\n".join([envelope(first), "Verification for ... --", envelope(second),
                        json.dumps({"payload": "not base64!"}), envelope(["a", "list"])])
    assert statements(output) == [first, second]


def test_attestations_come_back_decoded() -> None:
    statement = {"predicateType": "https://cyclonedx.org/bom", "predicate": {"components": []}}
    shell = EnvShell(stdout=envelope(statement) + "\n")
    found = Cosign(shell).attestations(LOCAL, "cyclonedx", Trust(key=Path("cosign.pub")))
    assert found == [statement]
    assert shell.calls[0][0][:2] == ("cosign", "verify-attestation")


def test_a_key_that_does_not_open_is_told_apart() -> None:
    key = SigningKey(path=Path("/keys/cosign.key"), password="wrong")
    assert not Cosign(RecordingShell(fail=["public-key"]), key=key).opens_key()
    opened = RecordingShell()
    assert Cosign(opened, key=key).opens_key()
    assert opened.commands == [("cosign", "public-key", "--key", "/keys/cosign.key")]
    assert opened.environments[0] is not None
    assert opened.environments[0]["COSIGN_PASSWORD"] == "wrong"
