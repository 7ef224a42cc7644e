"""Signing for one command (README: Trust): which key or identity, cosign checked before
anything is built, and the commands a consumer runs to check what was signed."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from xbuild.core.errors import EnvironmentProblem, RegistryError, SelectionError
from xbuild.core.matrix import Matrix
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult, ListStatus
from xbuild.core.settings import SigningSettings
from xbuild.core.slsa import COSIGN_TYPE as PROVENANCE_TYPE
from xbuild.engine.signing import SBOM_TYPE, Evidence, Signing
from xbuild.host.cosign import PASSWORD_ENV, Cosign, SigningKey, checking_cosign
from xbuild.host.published import TagReader, insecure
from xbuild.output.console import Console
from xbuild.pipeline.tools import Tools

OIDC_ISSUER = "https://token.actions.githubusercontent.com"
_INSECURE = " --allow-http-registry --allow-insecure-registry"


def chosen(settings: SigningSettings, matrix: Matrix) -> SigningSettings:
    """The command line's choice, or else matrix.yml's `signing:`."""
    return settings if settings.on else matrix.signing


def cosign_for(settings: SigningSettings, kit: Tools) -> Cosign | None:
    """What signs this command's release; None when nothing is to be signed. Refuses a host
    without cosign, a missing key and keyless signing without a token: call it before
    anything runs (it reads no registry)."""
    if not settings.on:
        return None
    checking_cosign(kit.shell)  # refuses a host without cosign
    if settings.keyless and (problem := keyless_problem(os.environ)):
        raise EnvironmentProblem(problem)
    key = None
    if settings.key is not None:
        if not settings.key.is_file():
            raise SelectionError(f"{settings.key}: no such cosign private key (--sign-key, "
                                 "or matrix.yml signing.key)")
        key = SigningKey(path=settings.key, password=os.environ.get(PASSWORD_ENV, ""))
    return Cosign(kit.shell, key=key)


def require_key_opens(cosign: Cosign | None) -> None:
    """Refuse a key its password does not open, before anything is built. It costs cosign's
    key derivation (0.4 s), so a run that will sign nothing does not ask."""
    if cosign is not None and cosign.key is not None and not cosign.opens_key():
        raise SelectionError(f"{cosign.key.path}: cosign cannot open this private key with "
                             f"the password in {PASSWORD_ENV} (wrong, or not set)")


def keyless_problem(env: Mapping[str, str]) -> str:
    """Why keyless signing cannot work here ("" when it can): cosign would otherwise wait for
    a person to log in through a browser, in the middle of a release."""
    if env.get("SIGSTORE_ID_TOKEN") or (env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
                                        and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")):
        return ""
    return ("--sign-keyless needs an OIDC token: run it in GitHub Actions in a job with "
            "`id-token: write`, or set SIGSTORE_ID_TOKEN; or sign with --sign-key")


def signing_with(cosign: Cosign, kit: Tools, evidence: Callable[[str], Evidence]) -> Signing:
    """Signing by `cosign` of the images whose SBOM and provenance `evidence` locates."""
    return Signing(signer=lambda: cosign, evidence=evidence,
                   digest_of=lambda ref: pinned_now(ref, kit.registry).digest)


def pinned_now(ref: Reference, reader: TagReader) -> Reference:
    """`ref` pinned to the digest its tag names now, as the registry answers."""
    answers, failures = reader.read_all([ref])
    if str(ref) in failures:
        raise failures[str(ref)]
    found = answers.get(str(ref))
    if found is None:
        raise RegistryError(f"{ref}: no such tag in the registry")
    return ref.pinned(found.digest)


def verify_commands(lists: Sequence[Reference], settings: SigningSettings,
                    env: Mapping[str, str]) -> list[str]:
    """How a consumer checks what this run signed, with xbuild and with plain cosign; `env`
    names the GitHub workflow whose identity signs keyless."""
    if settings.key is not None:
        trust = f"--key {settings.key.with_suffix('.pub')}"
        cosign_trust = trust + " --insecure-ignore-tlog=true"
    else:
        workflow = env.get("GITHUB_WORKFLOW_REF", "OWNER/REPO/.github/workflows/images.yml@REF")
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        trust = cosign_trust = (f"--certificate-identity {server}/{workflow} "
                                f"--certificate-oidc-issuer {OIDC_ISSUER}")
    lines = []
    for ref in lists:
        flags = cosign_trust + (_INSECURE if insecure(ref.registry) else "")
        lines += [f"xbuild verify {ref} {trust}", f"cosign verify {flags} {ref}",
                  *(f"cosign verify-attestation --type {kind} {flags} {ref}-ARCH"
                    for kind in (SBOM_TYPE, PROVENANCE_TYPE))]
    return lines


def show_verify_commands(results: Sequence[ListResult], settings: SigningSettings,
                         console: Console) -> None:
    """The verify commands of the lists published, on the console and the step summary."""
    lists = [r.manifest.ref for r in results
             if r.status in (ListStatus.PUBLISHED, ListStatus.PARTIAL)]
    if not lists:
        return
    lines = verify_commands(lists, settings, os.environ)
    console.say("Check what this run signed:")
    for line in lines:
        console.say(f"  {line}")
    console.step_summary("### Verify\n\n```sh\n" + "\n".join(lines) + "\n```\n")
