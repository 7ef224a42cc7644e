"""Commands about the host: qemu, doctor, bases, registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbuild import bases, qemu, session
from xbuild.cli.common import (
    DEFAULT_JOBS,
    ArchOpt,
    DryRunOpt,
    JobsOpt,
    LogDirOpt,
    MatrixOpt,
    NamespaceOpt,
    State,
    app,
    handles_errors,
    parse_arches,
)
from xbuild.docker import Docker
from xbuild.doctor import diagnose, doctor_table, qemu_table
from xbuild.errors import ExitCode, NothingToDo
from xbuild.matrix import load_matrix
from xbuild.probe import cache_dir
from xbuild.registry import LocalRegistry
from xbuild.vcs import provenance


@app.command("qemu")
@handles_errors
def qemu_command(
    arch: ArchOpt = None,
    install: Annotated[bool, typer.Option(
        help="Register missing handlers from the host's qemu-user-static (needs root).")]
    = False,
    matrix: MatrixOpt = Path("matrix.yml"),
) -> None:
    """Check that containers of each arch the matrix needs really run (binfmt F flag + `arch`).

    Handlers come from the host's qemu-user-static (Debian's package), never from an image,
    so this works where no registry can be reached.
    """
    arches = parse_arches(arch) or load_matrix(matrix).all_arches
    if install:
        for line in qemu.install(arches):
            State.console.say(line)
    docker = Docker(echo=State.console.command)
    statuses = qemu.check(arches, docker, cache_dir())
    State.console.table(qemu_table(statuses))
    qemu.require(statuses)


@app.command()
@handles_errors
def doctor(
    matrix: MatrixOpt = Path("matrix.yml"),
    namespace: NamespaceOpt = None,
) -> None:
    """One table: engine, buildx and its driver, QEMU per arch, registry and login state."""
    the_matrix = load_matrix(matrix)
    rows = diagnose(the_matrix, namespace or the_matrix.namespace,
                    Docker(echo=State.console.command))
    State.console.table(doctor_table(rows))
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(int(ExitCode.ENVIRONMENT))


@app.command("bases")
@handles_errors
def bases_command(
    arch: ArchOpt = None,
    matrix: MatrixOpt = Path("matrix.yml"),
    namespace: NamespaceOpt = None,
    jobs: JobsOpt = DEFAULT_JOBS,
    dry_run: DryRunOpt = False,
    log_dir: LogDirOpt = Path(".xbuild/runs"),
) -> None:
    """Bootstrap the matrix's Debian bases per arch with mmdebstrap and push them as lists.

    Builds then resolve e.g. `FROM debian:bookworm-slim` to `<namespace>/debian:bookworm-slim-
    <arch>`, so the whole Debian-based matrix builds where no image registry is reachable.
    """
    the_matrix = load_matrix(matrix)
    if not the_matrix.bases:
        raise NothingToDo(f"{matrix}: declares no bases (see README.md, matrix.yml)")
    arches = parse_arches(arch) or the_matrix.all_arches
    docker = Docker(echo=State.console.say if dry_run else State.console.command,
                    dry_run=dry_run)
    run_dir = session.new_run_dir(log_dir)
    failed = False
    for base in the_matrix.bases:
        State.console.note(f"bootstrapping {base.name} for "
                           f"{', '.join(a.name for a in arches)} (logs in {run_dir})")
        result = bases.publish_base(base, arches, namespace or the_matrix.namespace, docker,
                                    provenance=provenance(the_matrix.path.parent),
                                    log_dir=run_dir, jobs=jobs)
        State.console.list_result(result.manifest.ref, result.status, result.detail,
                                  result.status.ok)
        failed |= not result.status.ok
    if failed:
        raise typer.Exit(int(ExitCode.FAILED))


registry_app = typer.Typer(help="Run a local registry on 127.0.0.1 (Debian's docker-registry).",
                           no_args_is_help=True)
app.add_typer(registry_app, name="registry")
PortOpt = Annotated[int, typer.Option(help="Port on 127.0.0.1.")]


@registry_app.command("start")
@handles_errors
def registry_start(port: PortOpt = 5000) -> None:
    """Start the registry in the background; its data stays under ~/.cache/xbuild/registry."""
    State.console.say(LocalRegistry(port=port).start())


@registry_app.command("stop")
@handles_errors
def registry_stop(port: PortOpt = 5000) -> None:
    """Stop the registry xbuild started."""
    State.console.say(LocalRegistry(port=port).stop())


@registry_app.command("status")
@handles_errors
def registry_status(port: PortOpt = 5000) -> None:
    """Say whether the registry answers."""
    registry = LocalRegistry(port=port)
    State.console.say(registry.status())
    if not registry.answers():
        raise typer.Exit(int(ExitCode.ENVIRONMENT))


