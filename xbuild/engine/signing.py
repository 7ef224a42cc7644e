"""Signing a verified release, the last thing before its public tags move (README: Trust).

Each new per-arch image gets two signed attestations, its SBOM (CycloneDX) and its provenance
(SLSA v1), then a signature; the list is made under its staging tag, signed there, and only
then put under its public tag. So a consumer never sees a public tag without its signature.
Only images this run staged are signed: a no-op rerun signs and attests nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from xbuild.core.refs import Reference
from xbuild.core.slsa import COSIGN_TYPE as PROVENANCE_TYPE
from xbuild.engine.engines import Signer

SBOM_TYPE = "cyclonedx"  # cosign attest --type


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Where one target's SBOM and provenance predicate lie (the run folder's evidence/)."""

    sbom: Path
    provenance: Path


class MissingEvidence(Exception):
    """A target to sign has no SBOM or provenance where its run keeps them."""


class Signing:
    """Signs and attests with `signer` (asked for on first use) what `evidence` names."""

    def __init__(self, signer: Callable[[], Signer], evidence: Callable[[str], Evidence],
                 digest_of: Callable[[Reference], str]) -> None:
        """`evidence`: target key -> where its SBOM and provenance lie; `digest_of`: the
        digest a tag names now (the registry's answer)."""
        self.signer, self.evidence, self.digest_of = signer, evidence, digest_of

    def images(self, staged: Sequence[tuple[str, Reference]],
               log: TextIO | None = None) -> None:
        """Attest and sign each (target key, pinned image); MissingEvidence before anything
        is signed when one has no SBOM or provenance; CommandFailed when cosign fails."""
        found = [(key, image, self._evidence(key)) for key, image in staged]
        for key, image, _ in found:
            _note(log, f"attesting and signing {key}: {image}")
        if found:
            # one thread per image: cosign's key derivation and round trips overlap; an
            # image's own three calls stay in order, as each rewrites its .att or .sig tag
            with ThreadPoolExecutor(max_workers=len(found),
                                    thread_name_prefix="xbuild-sign") as pool:
                list(pool.map(lambda one: self._one(one[1], one[2]), found))

    def _one(self, image: Reference, evidence: Evidence) -> None:
        signer = self.signer()
        signer.attest(image, evidence.sbom, SBOM_TYPE)
        signer.attest(image, evidence.provenance, PROVENANCE_TYPE)
        signer.sign(image)

    def list(self, staged: Reference, log: TextIO | None = None) -> Reference:
        """Sign the list just made under the tag `staged`; returns it pinned."""
        pinned = staged.pinned(self.digest_of(staged))
        _note(log, f"signing the list {pinned}")
        self.signer().sign(pinned)
        return pinned

    def _evidence(self, key: str) -> Evidence:
        evidence = self.evidence(key)
        for what, path in (("SBOM", evidence.sbom), ("provenance", evidence.provenance)):
            if not path.is_file():
                raise MissingEvidence(f"{key}: no {what} at {path} (the run that built it "
                                      "makes one when it verifies: --verify)")
        return evidence


def _note(log: TextIO | None, text: str) -> None:
    if log is not None:
        log.write(text + "\n")
        log.flush()
