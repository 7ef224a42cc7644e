"""`xbuild sbom`: the SBOM of each arch of an image, or one package's version per arch."""

from __future__ import annotations

import json
from typing import Annotated

import typer

import xbuild
from xbuild.cli.common import State, app, finish, handles_errors, image_ref, parse_arches
from xbuild.cli.options import ArchOpt, JsonOpt, RefArg
from xbuild.core.errors import NothingToDo
from xbuild.output.console import print_json
from xbuild.output.views import sbom_grid

PackageOpt = Annotated[str | None, typer.Option(
    "--package", "-p", help="Only this package's version per arch (a Debian package, a Python "
                            "distribution or a Java artifact).", show_default=False)]


@app.command()
@handles_errors
def sbom(ref: RefArg, arch: ArchOpt = None, package: PackageOpt = None,
         as_json: JsonOpt = False) -> None:
    """The software bill of materials of each arch, read from the image's files.

    Each arch's image is exported (no container runs) and its Debian packages (with the
    licences their machine-readable copyright files state), Python distributions and Java
    archives are listed. --json prints CycloneDX 1.6 per arch on stdout ({"amd64": {...}});
    with --package, the package's version per arch in one line (--json: its records per
    arch; exit 6 when no arch has it).
    """
    from xbuild.pipeline.bill_of_materials import arch_sboms, find_package, one_line
    from xbuild.pipeline.tools import tools

    reference = image_ref(ref, None)
    found = arch_sboms(reference, parse_arches(arch), tools(State.console).engines.on(),
                       tool_version=xbuild.__version__)
    if not found:
        raise NothingToDo(f"{reference}: no image of the arches asked for")
    if package is not None:
        hits = [(s.arch, find_package(s.inventory, package)) for s in found]
        State.console.say(one_line(package, hits))
        if as_json:
            print_json({a.name: [{"kind": f.kind, "name": f.name, "version": f.version,
                                  "where": f.where} for f in h] for a, h in hits})
        finish([any(h for _, h in hits)])
        return
    State.console.grid(sbom_grid(str(reference), [(s.arch.name, s.inventory) for s in found]))
    if as_json:
        print_json({s.arch.name: json.loads(s.document) for s in found})
