"""Signatures and attestations with the cosign CLI (Debian 13's package), run by the one host
command runner.

Key-based signing works in a closed network: nothing is uploaded to a transparency log
(`--tlog-upload=false`), so verification skips the log (`--insecure-ignore-tlog`). The key's
password reaches cosign as COSIGN_PASSWORD in its environment, never on argv, and the echo
(-v) shows argv only. Keyless signing (GitHub Actions' OIDC token, Fulcio and Rekor) needs the
internet; verification then names the certificate's identity and issuer.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xbuild.core.errors import CommandFailed, EnvironmentProblem
from xbuild.core.refs import Reference
from xbuild.engine.retry import RetryPolicy, is_transient
from xbuild.host.cmd import Completed, Shell
from xbuild.host.published import insecure

TIMEOUT = 300.0
MAX_ATTESTATION_OUTPUT = 64 << 20  # what verify-attestation prints, read at most
PASSWORD_ENV = "COSIGN_PASSWORD"


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKey:
    """A cosign key pair's private half; `password` is the value, held only in memory."""

    path: Path
    password: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Trust:
    """Whom a signature must come from: a public key, or a keyless certificate's identity."""

    key: Path | None = None
    identity: str = ""  # e.g. https://github.com/OWNER/REPO/.github/workflows/images.yml@refs/...
    issuer: str = ""  # e.g. https://token.actions.githubusercontent.com

    def flags(self) -> list[str]:
        if self.key is not None:
            return ["--key", str(self.key), "--insecure-ignore-tlog=true"]
        return ["--certificate-identity", self.identity, "--certificate-oidc-issuer", self.issuer]


class Cosign:
    """Signs and attests pinned images with `key` (None: keyless), and verifies them."""

    def __init__(self, shell: Shell, *, key: SigningKey | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self.shell, self.key, self.retry = shell, key, retry or RetryPolicy()

    def opens_key(self) -> bool:
        """The private key opens with its password (cosign derives the public half): checked
        before a run, so a wrong password stops it before anything is built."""
        if self.key is None:
            return True  # keyless: there is no key to open
        try:
            self._run(["public-key", "--key", str(self.key.path)], reads_only=True)
        except CommandFailed:
            return False
        return True

    def sign(self, image: Reference) -> None:
        self._run(["sign", *self._signing_flags(), *_registry_flags(image), _pinned(image)])

    def attest(self, image: Reference, predicate: Path, kind: str) -> None:
        """Attach `predicate` (a file) as a signed in-toto attestation of type `kind`
        (cosign's names: cyclonedx, slsaprovenance1, ...)."""
        self._run(["attest", *self._signing_flags(), *_registry_flags(image), "--type", kind,
                   "--predicate", str(predicate), _pinned(image)])

    def verify(self, image: Reference, trust: Trust) -> None:
        """Raises CommandFailed unless `image` carries a signature `trust` accepts."""
        self._run(["verify", *trust.flags(), *_registry_flags(image), "--output", "json",
                   _pinned(image)], reads_only=True)

    def attestations(self, image: Reference, kind: str, trust: Trust) -> list[dict[str, Any]]:
        """The in-toto statements of type `kind` attached to `image` whose signature `trust`
        accepts (cosign checks each); raises CommandFailed when there is none."""
        done = self._run(["verify-attestation", *trust.flags(), *_registry_flags(image),
                          "--type", kind, _pinned(image)], reads_only=True)
        return statements(done.stdout[:MAX_ATTESTATION_OUTPUT])

    def _signing_flags(self) -> list[str]:
        if self.key is None:
            return ["--yes"]  # keyless: Fulcio certificate, Rekor entry
        return ["--yes", "--key", str(self.key.path), "--tlog-upload=false"]

    def _run(self, args: list[str], *, reads_only: bool = False) -> Completed:
        env = None
        if self.key is not None:
            env = {**os.environ, PASSWORD_ENV: self.key.password}
        retrying = self.retry.retrying(
            lambda exc: isinstance(exc, CommandFailed) and is_transient(exc.output),
            lambda _n, _exc: None)
        result: Completed = retrying(lambda: self.shell.run(
            ["cosign", *args], timeout=TIMEOUT, env=env, reads_only=reads_only))
        return result


def checking_cosign(shell: Shell) -> Cosign:
    """A cosign that verifies; EnvironmentProblem when there is none on this host."""
    if shutil.which("cosign") is None:
        raise EnvironmentProblem("checking signatures needs the cosign CLI, which is not "
                                 "installed (`bash ci/host-setup.sh` installs Debian 13's)")
    return Cosign(shell)


def _pinned(image: Reference) -> str:
    if not image.digest:
        raise ValueError(f"cosign signs and checks images by digest only, not {image}")
    return str(image)


def _registry_flags(image: Reference) -> list[str]:
    if insecure(image.registry):
        return ["--allow-http-registry", "--allow-insecure-registry"]
    return []


def statements(output: str) -> list[dict[str, Any]]:
    """The in-toto statements in what `cosign verify-attestation` prints: one DSSE envelope
    per line, its payload base64-encoded JSON. Lines that are not envelopes are left out."""
    found = []
    for line in output.splitlines():
        try:
            envelope = json.loads(line)
            payload = json.loads(base64.b64decode(envelope["payload"], validate=True))
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(payload, dict):
            found.append(payload)
    return found
