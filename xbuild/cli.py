"""The `xbuild` command line: a thin layer over the planning core and the engine."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from xbuild import __version__, bases, qemu, session
from xbuild.audit import audit
from xbuild.console import Console, print_json
from xbuild.docker import Docker
from xbuild.doctor import diagnose, doctor_table, qemu_table
from xbuild.errors import ExitCode, NothingToDo, SelectionError, XbuildError
from xbuild.matrix import ImageSpec, Matrix, load_matrix
from xbuild.plan import Plan, make_plan, manifest_lists, plan_as_dict
from xbuild.platforms import ARCH_NAMES, Arch, arch_named
from xbuild.probe import cache_dir
from xbuild.publish import publish_lists
from xbuild.refs import Reference, parse_reference
from xbuild.registry import LocalRegistry
from xbuild.session import BuildSettings
from xbuild.vcs import provenance
from xbuild.views import manifests_table, plan_table, verify_failures, verify_table

app = typer.Typer(
    name="xbuild",
    help="Build, publish and verify one family of Docker images for several CPU architectures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    console = Console()
    debug = False


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an XbuildError into one line on stderr and its exit code; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except XbuildError as exc:
            if State.debug:
                raise
            State.console.error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            State.console.error("interrupted")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if State.debug:
                raise
            State.console.error(f"internal error: {type(exc).__name__}: {exc} "
                                "(run with --debug for the traceback, and please report it)")
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xbuild {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Echo every docker command.")]
    = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")]
    = False,
    version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = None,
) -> None:
    """Build, publish and verify one family of Docker images for several CPU architectures.

    The matrix of images x architectures lives in matrix.yml (see README.md).
    """
    State.console = Console(verbose=verbose)
    State.debug = debug


MatrixOpt = Annotated[Path, typer.Option("--matrix", "-f", help="The matrix file.",
                                         show_default=True)]
ImagesArg = Annotated[list[str] | None, typer.Argument(
    help="Images to act on (default: all). A child brings its in-matrix parents along.",
    show_default=False)]
ArchOpt = Annotated[list[str] | None, typer.Option(
    "--arch", "-a", help=f"Only these architectures (repeatable): {', '.join(ARCH_NAMES)}.",
    show_default=False)]
NamespaceOpt = Annotated[str | None, typer.Option(
    help="Publish under this namespace instead of the matrix's, e.g. 127.0.0.1:5000/team.",
    show_default=False)]
TagOpt = Annotated[str | None, typer.Option(help="Use this tag instead of the matrix's.",
                                            show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ParentsOpt = Annotated[bool, typer.Option(
    "--parents/--published-parents",
    help="Build in-matrix parents of the selected images in this run, or take the parents' "
         "per-arch tags already published.")]


def parse_arches(names: list[str] | None) -> tuple[Arch, ...]:
    arches = []
    for name in names or ():
        arch = arch_named(name)
        if arch is None:
            raise SelectionError(f"--arch {name!r}: unknown architecture; "
                                 f"known: {', '.join(ARCH_NAMES)}")
        arches.append(arch)
    return tuple(arches)


def load_plan(matrix_path: Path, images: list[str] | None, arch: list[str] | None, *,
              namespace: str | None, tag: str | None,
              parents: bool = True) -> tuple[Matrix, Plan]:
    arches = parse_arches(arch)
    matrix = load_matrix(matrix_path)
    plan = make_plan(matrix, images=images or (), arches=arches, namespace=namespace, tag=tag,
                     build_parents=parents)
    return matrix, plan


@app.command()
@handles_errors
def plan(
    images: ImagesArg = None,
    arch: ArchOpt = None,
    matrix: MatrixOpt = Path("matrix.yml"),
    namespace: NamespaceOpt = None,
    tag: TagOpt = None,
    parents: ParentsOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Show what a build would do: targets level by level, tags and manifest lists.

    Reads the matrix and the recipes; runs no docker command.
    """
    _, the_plan = load_plan(matrix, images, arch, namespace=namespace, tag=tag, parents=parents)
    if as_json:
        print_json(plan_as_dict(the_plan))
        return
    State.console.table(plan_table(the_plan))
    State.console.table(manifests_table(the_plan))
    if the_plan.lists_deferred:
        State.console.note("no manifest list for " + ", ".join(the_plan.lists_deferred)
                           + ": --arch leaves some of their arches out (run `xbuild manifest` "
                           "once every arch is published)")


DEFAULT_JOBS = session.default_jobs()
PushOpt = Annotated[bool, typer.Option(help="Push per-arch tags, then publish manifest lists.")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Targets built at once "
                                      "(default: the number of CPUs, at least 2).")]
DryRunOpt = Annotated[bool, typer.Option(help="Print the docker commands; run none.")]
PartialOpt = Annotated[bool, typer.Option(
    help="Publish a manifest list over the arches that succeeded even if some failed.")]
VerifyOpt = Annotated[bool, typer.Option(
    help="After publishing, verify each manifest list as `xbuild verify` does.")]
LogDirOpt = Annotated[Path, typer.Option(help="Where each run keeps its per-target build logs.")]


def _build(matrix: Path, images: list[str] | None, arch: list[str] | None, *,
           namespace: str | None, tag: str | None, parents: bool, settings: BuildSettings,
           as_json: bool) -> None:
    the_matrix, the_plan = load_plan(matrix, images, arch, namespace=namespace, tag=tag,
                                     parents=parents)
    report = session.build(the_matrix, the_plan, settings, State.console)
    (report.run_dir / "summary.json").write_text(json.dumps(report.as_dict(), indent=2))
    if as_json:
        print_json(report.as_dict())
    if report.exit_code != ExitCode.OK:
        raise typer.Exit(int(report.exit_code))


@app.command()
@handles_errors
def build(
    images: ImagesArg = None,
    arch: ArchOpt = None,
    push: PushOpt = False,
    matrix: MatrixOpt = Path("matrix.yml"),
    namespace: NamespaceOpt = None,
    tag: TagOpt = None,
    jobs: JobsOpt = DEFAULT_JOBS,
    dry_run: DryRunOpt = False,
    allow_partial: PartialOpt = False,
    parents: ParentsOpt = True,
    verify: VerifyOpt = False,
    log_dir: LogDirOpt = Path(".xbuild/runs"),
    as_json: JsonOpt = False,
) -> None:
    """Build images x arches in dependency order with docker buildx; optionally publish.

    Each child is built FROM the parent built for the same arch in this run, pinned by digest.
    A failed target skips its dependents and everything else goes on. Exit codes: 0 all
    succeeded, 5 some failed, 6 all failed, 7 --verify found a lie, 2 bad input, 3 nothing
    selected, 4 host problem.
    """
    settings = session.BuildSettings(push=push, jobs=jobs, dry_run=dry_run,
                                     allow_partial=allow_partial, verify=verify,
                                     log_dir=log_dir)
    _build(matrix, images, arch, namespace=namespace, tag=tag, parents=parents,
           settings=settings, as_json=as_json)


@app.command("all")
@handles_errors
def build_all(
    arch: ArchOpt = None,
    push: PushOpt = False,
    matrix: MatrixOpt = Path("matrix.yml"),
    namespace: NamespaceOpt = None,
    tag: TagOpt = None,
    jobs: JobsOpt = DEFAULT_JOBS,
    dry_run: DryRunOpt = False,
    allow_partial: PartialOpt = False,
    verify: VerifyOpt = False,
    log_dir: LogDirOpt = Path(".xbuild/runs"),
    as_json: JsonOpt = False,
) -> None:
    """Build every image of the matrix (same as `build` with no IMAGE)."""
    settings = session.BuildSettings(push=push, jobs=jobs, dry_run=dry_run,
                                     allow_partial=allow_partial, verify=verify,
                                     log_dir=log_dir)
    _build(matrix, None, arch, namespace=namespace, tag=tag, parents=True, settings=settings,
           as_json=as_json)


@app.command()
@handles_errors
def manifest(
    images: ImagesArg = None,
    matrix: MatrixOpt = Path("matrix.yml"),
    namespace: NamespaceOpt = None,
    tag: TagOpt = None,
    allow_partial: PartialOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish manifest lists from per-arch tags already in the registry.

    The merge step when each arch was built and pushed on its own runner.
    """
    lists = manifest_lists(load_matrix(matrix), images=images or (), namespace=namespace,
                           tag=tag)
    docker = Docker(echo=State.console.say if dry_run else State.console.command,
                    dry_run=dry_run)
    results = publish_lists(lists, docker, allow_partial=allow_partial)
    for result in results:
        State.console.list_result(result.manifest.ref, result.status, result.detail,
                                  result.status.ok)
    if as_json:
        print_json([{"ref": r.manifest.ref, "status": str(r.status),
                     "platforms": list(r.platforms), "detail": r.detail} for r in results])
    if not all(r.status.ok for r in results):
        some = any(r.status.published for r in results)
        raise typer.Exit(int(ExitCode.PARTIAL if some else ExitCode.FAILED))


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


def main() -> None:
    try:
        app()
    except XbuildError as exc:  # raised outside a command, e.g. from an option callback
        State.console.error(str(exc))
        raise SystemExit(int(exc.exit_code)) from None

