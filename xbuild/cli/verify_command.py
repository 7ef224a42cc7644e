"""`xbuild verify`: audit a published image, arch by arch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbuild.cli.common import State, app, finish, handles_errors, image_ref, parse_arches
from xbuild.cli.options import ArchOpt, JsonOpt, RefArg
from xbuild.core.imagespec import ImageSpec
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.parity import NO_PARITY
from xbuild.core.refs import Reference
from xbuild.output.console import print_json


@app.command()
@handles_errors
def verify(
    ref: RefArg,
    arch: ArchOpt = None,
    matrix: Annotated[Path | None, typer.Option(
        "--matrix", "-f", help="Matrix for expected arches, smoke commands and the default tag "
                               "(default: ./matrix.yml when it exists).",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove every arch of a published image is what it claims.

    Per arch: the list entry, the image config, the `architecture` label, a real `arch`
    run, the ELF header of its binaries, dpkg, and the matrix's smoke commands. Then parity
    across the arches: the same Debian packages and Python distributions, and the same files
    under the matrix's parity.paths. Exit 0 only when every applicable check passes; 7
    otherwise.
    """
    from xbuild.pipeline.tools import tools
    from xbuild.pipeline.verify import verify as audit

    path = matrix or Path("matrix.yml")
    the_matrix = load_matrix(path) if matrix or path.is_file() else None
    if the_matrix is None and not arch:
        State.console.note("no matrix.yml here: expecting the arches the list names")
    reference = image_ref(ref, the_matrix)
    spec = _matrix_image(the_matrix, reference)
    wanted = parse_arches(arch) or (spec.arches if spec else ())
    report = audit(reference, wanted, spec.smoke if spec else (),
                   tools(State.console).engines.on(), State.console,
                   parity=spec.parity if spec else NO_PARITY)
    if as_json:
        print_json(report.as_dict())
    finish([True], lied=not report.ok)


def _matrix_image(matrix: Matrix | None, reference: Reference) -> ImageSpec | None:
    if matrix is None or reference.name not in matrix.names:
        return None
    return matrix.image(reference.name)


