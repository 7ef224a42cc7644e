"""`xbuild verify`: audit a published image, arch by arch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbuild.cli.common import State, app, finish, handles_errors, image_ref, parse_arches
from xbuild.cli.options import ArchOpt, JsonOpt, RefArg
from xbuild.core.errors import SelectionError
from xbuild.core.imagespec import ImageSpec
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.parity import NO_PARITY
from xbuild.core.refs import Reference
from xbuild.host.cosign import Trust, checking_cosign
from xbuild.output.console import print_json

VerifyMatrixOpt = Annotated[Path | None, typer.Option(
    "--matrix", "-f", help="Matrix for expected arches, smoke commands and the default tag "
                           "(default: ./matrix.yml when it exists).", show_default=False)]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key", help="Check signatures and attestations against this cosign public key.",
    show_default=False)]
IdentityOpt = Annotated[str | None, typer.Option(
    "--certificate-identity", help="Check keyless signatures made by this identity: the "
                                   "signing workflow's URL at its ref (a signed run prints it).",
    show_default=False)]
IssuerOpt = Annotated[str | None, typer.Option(
    "--certificate-oidc-issuer", help="The keyless identity's issuer, e.g. "
                                      "https://token.actions.githubusercontent.com.",
    show_default=False)]


@app.command()
@handles_errors
def verify(ref: RefArg, arch: ArchOpt = None, matrix: VerifyMatrixOpt = None,
           key: KeyOpt = None, identity: IdentityOpt = None, issuer: IssuerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Prove every arch of a published image is what it claims.

    Per arch: the list entry, the image config, the `architecture` label, a real `arch`
    run, the ELF header of its binaries, dpkg, and the matrix's smoke commands. Then parity
    across the arches: the same Debian packages and Python distributions, and the same files
    under the matrix's parity.paths. With --key (or a keyless identity and issuer): the list
    and each arch are signed by it, and each arch's SBOM and provenance attestations are
    signed, name its digest, list the Debian packages dpkg lists, and state the commit and
    identity of its labels; without, these show as not checked. Exit 0 only when every
    applicable check passes; 7 otherwise.
    """
    from xbuild.pipeline.tools import tools
    from xbuild.pipeline.verify import verify as audit

    trust = trust_from(key, identity, issuer)
    the_matrix = _optional_matrix(matrix, expecting=bool(arch))
    reference = image_ref(ref, the_matrix)
    spec = _matrix_image(the_matrix, reference)
    wanted = parse_arches(arch) or (spec.arches if spec else ())
    kit = tools(State.console)
    report = audit(reference, wanted, spec.smoke if spec else (), kit.engines.on(),
                   State.console, parity=spec.parity if spec else NO_PARITY,
                   signed=(checking_cosign(kit.shell), trust, kit.registry) if trust else None)
    if as_json:
        print_json(report.as_dict())
    finish([True], lied=not report.ok)


def _optional_matrix(given: Path | None, *, expecting: bool) -> Matrix | None:
    path = given or Path("matrix.yml")
    the_matrix = load_matrix(path) if given or path.is_file() else None
    if the_matrix is None and not expecting:
        State.console.note("no matrix.yml here: expecting the arches the list names")
    return the_matrix


def _matrix_image(matrix: Matrix | None, reference: Reference) -> ImageSpec | None:
    if matrix is None or reference.name not in matrix.names:
        return None
    return matrix.image(reference.name)




def trust_from(key: Path | None, identity: str | None, issuer: str | None) -> Trust | None:
    """Whom signatures must come from; None when no option asks for signatures."""
    if key is not None and (identity or issuer):
        raise SelectionError("--key or --certificate-identity, not both")
    if key is not None:
        if not key.is_file():
            raise SelectionError(f"--key {key}: no such file")
        return Trust(key=key)
    if bool(identity) != bool(issuer):
        raise SelectionError("--certificate-identity and --certificate-oidc-issuer go together")
    return Trust(identity=identity, issuer=issuer) if identity and issuer else None
