"""`xbuild verify`: audit a published image, arch by arch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbuild.audit import audit
from xbuild.cli.common import ArchOpt, JsonOpt, State, app, handles_errors, parse_arches
from xbuild.console import print_json
from xbuild.docker import Docker
from xbuild.errors import ExitCode, SelectionError
from xbuild.matrix import ImageSpec, Matrix, load_matrix
from xbuild.refs import Reference, parse_reference
from xbuild.views import verify_failures, verify_table


@app.command()
@handles_errors
def verify(
    ref: Annotated[str, typer.Argument(help="repository[:tag][@digest], e.g. derekmerck/orthanc or "
                                            "derekmerck/orthanc@sha256:...",
                                       show_default=False)],
    arch: ArchOpt = None,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", "-f", help="Matrix for expected arches, smoke commands and the default tag "
                               "(default: ./matrix.yml when it exists).",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove every arch of a published image is what it claims.

    Per arch: the list entry, the image config, the `architecture` label, a real `arch`
    run, the ELF header of its binaries, dpkg, and the matrix's smoke commands. Exit 0 only
    when every applicable check passes; 7 otherwise.
    """
    path = matrix or Path("matrix.yml")
    the_matrix = load_matrix(path) if matrix or path.is_file() else None
    if the_matrix is None and not arch:
        State.console.note("no matrix.yml here: expecting the arches the list names")
    reference = _verify_ref(ref, the_matrix)
    spec = _matrix_image(the_matrix, reference)
    wanted = parse_arches(arch) or (spec.arches if spec else ())
    report = audit(reference, wanted, dict(spec.smoke) if spec else {},
                   Docker(echo=State.console.command))
    for warning in report.warnings:
        State.console.warn(warning)
    State.console.table(verify_table(report))
    for line in verify_failures(report):
        State.console.say(line, style="red")
    if as_json:
        print_json(report.as_dict())
    if not report.ok:
        raise typer.Exit(int(ExitCode.VERIFY))


def _verify_ref(text: str, matrix: Matrix | None) -> Reference:
    try:
        reference = parse_reference(text)
    except ValueError as exc:
        raise SelectionError(f"not an image reference: {exc}") from None
    if not reference.tag and not reference.digest:
        return Reference(repository=reference.repository, tag=matrix.tag if matrix else "latest")
    return reference


def _matrix_image(matrix: Matrix | None, reference: Reference) -> ImageSpec | None:
    name = reference.repository.rsplit("/", 1)[-1]
    if matrix is None or name not in matrix.names:
        return None
    return matrix.image(name)


