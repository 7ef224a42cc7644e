"""Commands about the host: qemu, doctor, bases, registry."""

from __future__ import annotations

from typing import Annotated

import typer

from xbuild.cli.common import State, app, finish, handles_errors, node_map, parse_arches
from xbuild.cli.options import (
    DEFAULT_JOBS,
    LOG_DIR,
    MATRIX_FILE,
    ArchOpt,
    BuilderOpt,
    DryRunOpt,
    JobsOpt,
    LogDirOpt,
    MatrixOpt,
    NamespaceOpt,
)
from xbuild.core.errors import ExitCode
from xbuild.core.matrix import load_matrix
from xbuild.core.results import push_outcomes
from xbuild.host.local_registry import LocalRegistry

InstallOpt = Annotated[bool, typer.Option(
    help="Register missing handlers from the host's qemu-user-static (needs root).")]


@app.command("qemu")
@handles_errors
def qemu_command(arch: ArchOpt = None, install: InstallOpt = False,
                 matrix: MatrixOpt = MATRIX_FILE, builder: BuilderOpt = None) -> None:
    """Check that containers of each arch the matrix needs really run (binfmt F flag + `arch`).

    Handlers come from the host's qemu-user-static (Debian's package), never from an image,
    so this works where no registry can be reached. Exit 4 when an arch cannot run.
    """
    from xbuild.host.qemu import require
    from xbuild.pipeline.host_checks import check_qemu

    the_matrix = load_matrix(matrix)
    arches = parse_arches(arch) or the_matrix.all_arches
    require(check_qemu(arches, node_map(builder, the_matrix), install=install,
                       console=State.console))


@app.command()
@handles_errors
def doctor(matrix: MatrixOpt = MATRIX_FILE, namespace: NamespaceOpt = None,
           builder: BuilderOpt = None) -> None:
    """One table: per node its engine, buildx, driver, native platforms and the arches it
    builds (flagging emulated ones), a probe per arch on its node; registry and login state.

    Exit 4 when a check fails.
    """
    from xbuild.pipeline.host_checks import doctor as diagnose

    the_matrix = load_matrix(matrix)
    rows = diagnose(the_matrix, namespace, node_map(builder, the_matrix), State.console)
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(int(ExitCode.ENVIRONMENT))


@app.command("bases")
@handles_errors
def bases_command(arch: ArchOpt = None, matrix: MatrixOpt = MATRIX_FILE,
                  namespace: NamespaceOpt = None, builder: BuilderOpt = None,
                  jobs: JobsOpt = DEFAULT_JOBS, dry_run: DryRunOpt = False,
                  log_dir: LogDirOpt = LOG_DIR) -> None:
    """Bootstrap the matrix's Debian bases per arch with mmdebstrap and push them as lists.

    Builds then resolve e.g. `FROM debian:bookworm-slim` to `<namespace>/debian:bookworm-slim-
    <arch>`, so the whole Debian-based matrix builds where no image registry is reachable.
    Exit 0 when every base is published for every arch, 5 when some are, 6 when none is.
    """
    from xbuild.pipeline.bases import publish_bases

    the_matrix = load_matrix(matrix)
    results = publish_bases(the_matrix, arches=parse_arches(arch), namespace=namespace,
                            jobs=jobs, dry_run=dry_run, log_dir=log_dir, console=State.console,
                            nodes=node_map(builder, the_matrix))
    finish(push_outcomes(results))


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
    """Say whether the registry answers (exit 4 when it does not)."""
    registry = LocalRegistry(port=port)
    State.console.say(registry.status())
    if not registry.answers():
        raise typer.Exit(int(ExitCode.ENVIRONMENT))
