"""`xbuild verify --key`'s trust checks, judged from what cosign accepted (README: Trust): the
signature, the SBOM attestation against what dpkg says the image holds, and the provenance
attestation against the image's labels. Pure; the statements come from a registry, so they
are read as hostile (only the fields named here, bounded)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from xbuild.core.buildspec import IDENTITY_LABEL, REVISION_LABEL
from xbuild.core.checks import Check, Verdict
from xbuild.core.inventory import Inventory
from xbuild.core.sbom import sbom_differences
from xbuild.core.slsa import claims

SIGNATURE, SBOM, PROVENANCE = "signature", "sbom", "provenance"
DIFFERENCES_SHOWN = 3
NOT_ASKED = "not checked (no --key or --certificate-identity)"


def not_checked(names: tuple[str, ...] = (SIGNATURE, SBOM, PROVENANCE)) -> tuple[Check, ...]:
    """What verify says of checks it was not asked to make: never a pass."""
    return tuple(Check(check=name, status=Verdict.NOT_CHECKED, observed=NOT_ASKED)
                 for name in names)


def signature_check(problem: str) -> Check:
    """`problem`: why cosign refused the signature ("" when it accepted one)."""
    if problem:
        return Check(check=SIGNATURE, status=Verdict.FAIL, observed=problem,
                     expected="signed by the key or identity given")
    return Check(check=SIGNATURE, status=Verdict.PASS, observed="signed")


def naming(statements: Sequence[Mapping[str, Any]], digest: str) -> list[Mapping[str, Any]]:
    """The predicates of the statements whose subject is `digest`."""
    hexdigest = digest.removeprefix("sha256:")
    found: list[Mapping[str, Any]] = []
    for statement in statements:
        subjects = statement.get("subject")
        if not isinstance(subjects, list):
            continue
        if any(isinstance(s, dict) and isinstance(s.get("digest"), dict)
               and s["digest"].get("sha256") == hexdigest for s in subjects[:100]):
            predicate = statement.get("predicate")
            if isinstance(predicate, dict):
                found.append(predicate)
    return found


def sbom_check(predicates: Sequence[Mapping[str, Any]], problem: str,
               inventory: Inventory | None) -> Check:
    """The newest SBOM attestation naming this digest lists the Debian packages dpkg says
    the image holds."""
    if problem or not predicates:
        return Check(check=SBOM, status=Verdict.FAIL,
                     observed=problem or "no signed SBOM attestation names this digest",
                     expected="a signed CycloneDX attestation")
    if inventory is None:
        return Check(check=SBOM, status=Verdict.NOT_CHECKED,
                     observed="signed; the image's files could not be read to compare")
    found = sbom_differences(json.dumps(predicates[-1]).encode(), inventory)
    if found:
        more = f" and {len(found) - DIFFERENCES_SHOWN} more" if len(found) > DIFFERENCES_SHOWN \
            else ""
        return Check(check=SBOM, status=Verdict.FAIL,
                     observed="; ".join(found[:DIFFERENCES_SHOWN]) + more,
                     expected="the packages dpkg lists in the image")
    return Check(check=SBOM, status=Verdict.PASS,
                 observed=f"signed; {len(inventory.packages)} Debian packages as dpkg says")


def provenance_check(predicates: Sequence[Mapping[str, Any]], problem: str,
                     labels: Mapping[str, str]) -> Check:
    """Some provenance attestation naming this digest states the commit and identity the
    image's labels carry."""
    if problem or not predicates:
        return Check(check=PROVENANCE, status=Verdict.FAIL,
                     observed=problem or "no signed provenance attestation names this digest",
                     expected="a signed SLSA provenance attestation")
    wanted = (labels.get(REVISION_LABEL, ""), labels.get(IDENTITY_LABEL, ""))
    stated = [claims(p) for p in predicates]
    if wanted in stated:
        return Check(check=PROVENANCE, status=Verdict.PASS,
                     observed=f"signed; commit {wanted[0][:12] or '(none)'}, identity "
                              f"{wanted[1][7:19] or '(none)'}")
    commit, identity = stated[-1]
    return Check(check=PROVENANCE, status=Verdict.FAIL,
                 observed=f"states commit {commit[:12] or '(none)'}, identity "
                          f"{identity[7:19] or '(none)'}",
                 expected=f"the labels' commit {wanted[0][:12] or '(none)'}, identity "
                          f"{wanted[1][7:19] or '(none)'}")
