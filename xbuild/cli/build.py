"""Commands that plan, fetch, build and publish: plan, build, all, manifest, fetch."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from xbuild import session
from xbuild.cli.common import (
    DEFAULT_JOBS,
    ArchOpt,
    DryRunOpt,
    ImagesArg,
    JobsOpt,
    JsonOpt,
    LogDirOpt,
    MatrixOpt,
    MirrorOpt,
    NamespaceOpt,
    ParentsOpt,
    PartialOpt,
    PushOpt,
    State,
    TagOpt,
    VerifyOpt,
    app,
    checked_mirror,
    handles_errors,
    load_plan,
)
from xbuild.console import print_json
from xbuild.docker import Docker
from xbuild.errors import ExitCode, NothingToDo
from xbuild.matrix import load_matrix
from xbuild.plan import manifest_lists, plan_as_dict
from xbuild.prefetch import write_mirror
from xbuild.publish import publish_lists
from xbuild.session import BuildSettings
from xbuild.views import manifests_table, plan_table


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
    mirror: MirrorOpt = None,
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
                                     log_dir=log_dir, mirror=checked_mirror(mirror))
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
    mirror: MirrorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build every image of the matrix (same as `build` with no IMAGE)."""
    settings = session.BuildSettings(push=push, jobs=jobs, dry_run=dry_run,
                                     allow_partial=allow_partial, verify=verify,
                                     log_dir=log_dir, mirror=checked_mirror(mirror))
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




@app.command()
@handles_errors
def fetch(
    images: ImagesArg = None,
    arch: ArchOpt = None,
    matrix: MatrixOpt = Path("matrix.yml"),
    into: Annotated[Path | None, typer.Option(
        help="Also copy every file into this folder as a mirror tree (<host>/<path>), "
             "for a closed network's web server and XBUILD_MIRROR.", show_default=False)]
    = None,
    mirror: MirrorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the downloads the selected builds need into the cache, checksums verified.

    A checksum neither pinned in matrix.yml nor locked is recorded in the recipe's
    downloads.lock. Exit 0 when every file is in hand, 5 when some failed, 6 when all did.
    """
    the_matrix, the_plan = load_plan(matrix, images, arch, namespace=None, tag=None)
    settings = BuildSettings(mirror=checked_mirror(mirror))
    wanted = session.downloads_wanted(the_matrix, the_plan)
    with tempfile.TemporaryDirectory(prefix="xbuild-fetch-") as staging:
        fetched = session.fetch_downloads(wanted, settings, Path(staging), State.console)
    if into is not None:
        for path in write_mirror(fetched.files, into):
            State.console.note(f"mirrored {path}")
    if as_json:
        print_json({"files": {url: str(path) for url, path in fetched.files.items()},
                    "failed": fetched.failed})
    if not fetched.files and not fetched.failed:
        raise NothingToDo("the selected images declare no downloads")
    if fetched.failed:
        raise typer.Exit(int(ExitCode.PARTIAL if fetched.files else ExitCode.FAILED))
