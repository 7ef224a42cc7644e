"""Commands that plan, fetch, build and publish: plan, build, all, manifest, fetch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from xbuild.cli.common import (
    State,
    app,
    checked_mirror,
    checked_rebuild,
    finish,
    handles_errors,
    load_plan,
    node_map,
    signing_settings,
)
from xbuild.cli.options import (
    DEFAULT_JOBS,
    LOG_DIR,
    MATRIX_FILE,
    AllowPartialOpt,
    ArchOpt,
    BuilderOpt,
    DryRunOpt,
    ImagesArg,
    JobsOpt,
    JsonOpt,
    LockedOpt,
    LogDirOpt,
    MatrixOpt,
    MirrorOpt,
    NamespaceOpt,
    ParentsOpt,
    PushOpt,
    RebuildOpt,
    SignKeylessOpt,
    SignKeyOpt,
    TagOpt,
    VerifyOpt,
)
from xbuild.core.errors import ExitCode, NothingToDo, SelectionError
from xbuild.core.identity import inputs_as_dict
from xbuild.core.matrix import load_matrix
from xbuild.core.plan import Plan, plan_as_dict
from xbuild.core.results import list_outcomes
from xbuild.output.console import print_json
from xbuild.output.views import manifests_grid, plan_grid

if TYPE_CHECKING:
    from xbuild.core.identity import Resolution

# The options only one of these commands takes (the shared ones: cli/options.py).
ResolveOpt = Annotated[bool, typer.Option(
    help="Also read the registry: resolve external bases, so every identity is known, and say "
         "which targets a build with --push would find up to date.")]
FromOpt = Annotated[list[Path] | None, typer.Option(
    "--from", help="Build records (build-record.json in each run folder) to publish exactly the "
                   "digests of; records that disagree are refused. Repeatable.",
    show_default=False)]
IntoOpt = Annotated[Path | None, typer.Option(
    help="Also copy every file into this folder as a mirror tree (<host>/<path>), for a closed "
         "network's web server and XBUILD_MIRROR.", show_default=False)]
UpdateLockOpt = Annotated[bool, typer.Option(
    help="Fetch the downloads afresh, even those downloads.lock lists, and record what they are "
         "now in the lock (matrix.yml's own sha256 pins still hold).")]


@app.command()
@handles_errors
def plan(images: ImagesArg = None, arch: ArchOpt = None, matrix: MatrixOpt = MATRIX_FILE,
         namespace: NamespaceOpt = None, tag: TagOpt = None, parents: ParentsOpt = True,
         resolve: ResolveOpt = False, locked: LockedOpt = False,
         as_json: JsonOpt = False) -> None:
    """Show what a build would do: targets level by level, their identities, tags and lists.

    Reads the matrix and the recipes, and runs no docker command. An identity that needs an
    external base's digest shows as unknown unless --resolve reads the registry.
    """
    from xbuild.host.cmd import Shell
    from xbuild.host.published import PublishedReader
    from xbuild.pipeline.download_step import downloads_wanted
    from xbuild.pipeline.resolve import resolve as resolve_plan

    the_matrix, the_plan = load_plan(matrix, images, arch, namespace=namespace, tag=tag,
                                     parents=parents)
    downloads_wanted(the_matrix, the_plan, locked=locked)
    registry = PublishedReader(Shell(echo=State.console.command)) if resolve else None
    resolution = resolve_plan(the_matrix, the_plan, registry, push=resolve)
    if as_json:
        print_json(plan_json(the_plan, resolution, resolved=resolve))
        return
    State.console.grid(plan_grid(the_plan, resolution.identities,
                                 resolution.up_to_date if resolve else None))
    State.console.grid(manifests_grid(the_plan))
    if the_plan.lists_deferred:
        State.console.note("no manifest list for " + ", ".join(the_plan.lists_deferred)
                           + ": --arch leaves some of their arches out (run `xbuild manifest` "
                           "once every arch is published)")


def plan_json(the_plan: Plan, resolution: Resolution, *, resolved: bool) -> dict[str, Any]:
    data = plan_as_dict(the_plan)
    for target, entry in zip(the_plan.targets, data["targets"], strict=True):
        entry["identity"] = resolution.identities[target.key]
        entry["inputs"] = inputs_as_dict(resolution.inputs[target.key])
        if resolved:
            entry["up_to_date"] = target.key in resolution.up_to_date
    return data


@app.command()
@handles_errors
def build(images: ImagesArg = None, arch: ArchOpt = None, push: PushOpt = False,
          matrix: MatrixOpt = MATRIX_FILE, namespace: NamespaceOpt = None, tag: TagOpt = None,
          builder: BuilderOpt = None, jobs: JobsOpt = DEFAULT_JOBS, dry_run: DryRunOpt = False,
          allow_partial: AllowPartialOpt = False, parents: ParentsOpt = True,
          verify: VerifyOpt = False, rebuild: RebuildOpt = None, log_dir: LogDirOpt = LOG_DIR,
          mirror: MirrorOpt = None, locked: LockedOpt = False, sign_key: SignKeyOpt = None,
          sign_keyless: SignKeylessOpt = False, as_json: JsonOpt = False) -> None:
    """Build images x arches in dependency order with docker buildx; optionally publish.

    Each child is built FROM the parent built for the same arch in this run, pinned by digest.
    With --push, a target whose published image carries the identity this checkout gives it
    (see README, Incremental releases) is up to date: not built, not pushed. Others are pushed
    to their staging tags; an image's public tags move only when all its arches made it. With
    --arch leaving some of an image's arches out, nothing of it goes public here: `xbuild
    manifest --from` its build records does that. A failed target
    skips its dependents and everything else goes on. Exit codes: 0 all succeeded, 5 some
    failed, 6 all failed, 7 --verify found a lie, 2 bad input, 3 nothing selected, 4 host
    problem.
    """
    from xbuild.core.settings import BuildSettings
    from xbuild.pipeline.build import build as run_build

    signing = signing_settings(sign_key, sign_keyless)
    the_matrix, the_plan = load_plan(matrix, images, arch, namespace=namespace, tag=tag,
                                     parents=parents)
    settings = BuildSettings(push=push, jobs=jobs, dry_run=dry_run, allow_partial=allow_partial,
                             verify=verify or signing.on, log_dir=log_dir,
                             mirror=checked_mirror(mirror),
                             rebuild=checked_rebuild(rebuild, the_matrix),
                             builders=node_map(builder, the_matrix), locked=locked,
                             signing=signing)
    report = run_build(the_matrix, the_plan, settings, State.console)
    if as_json:
        print_json(report.as_dict())
    if report.exit_code != ExitCode.OK:
        raise typer.Exit(int(report.exit_code))


class EveryImage(TyperCommand):
    """`all`: the build command without IMAGE and --parents/--published-parents, so `build`
    runs with its defaults for them: every image, in-matrix parents built in the run."""

    def __init__(self, *, params: list[Any], **kwargs: Any) -> None:
        super().__init__(params=[p for p in params if p.name not in ("images", "parents")],
                         **kwargs)


app.command("all", cls=EveryImage,
            help="Build every image of the matrix: `build` with no IMAGE.")(build)


@app.command()
@handles_errors
def manifest(images: ImagesArg = None, matrix: MatrixOpt = MATRIX_FILE,
             namespace: NamespaceOpt = None, tag: TagOpt = None, records: FromOpt = None,
             allow_partial: AllowPartialOpt = False, dry_run: DryRunOpt = False,
             sign_key: SignKeyOpt = None, sign_keyless: SignKeylessOpt = False,
             as_json: JsonOpt = False) -> None:
    """Publish per-arch tags and manifest lists over images already pushed: the merge step
    when each arch was built on its own runner.

    With --from, exactly the staged digests the build records name: each per-arch tag moves
    to its digest, then the list. Without --from, only per-arch tags already public whose
    image carries the identity this checkout computes (never a staged image). Otherwise no
    tag of the image moves, naming the arch (--allow-partial: published without it).
    """
    from xbuild.pipeline.manifest import manifest as publish

    signing = signing_settings(sign_key, sign_keyless)
    results = publish(load_matrix(matrix), images=images or (), namespace=namespace, tag=tag,
                      allow_partial=allow_partial, dry_run=dry_run, console=State.console,
                      records=records or (), signing=signing)
    if as_json:
        print_json([{"ref": str(r.manifest.ref), "status": str(r.status),
                     "platforms": list(r.platforms), "detail": r.detail} for r in results])
    finish(list_outcomes(results))


@app.command()
@handles_errors
def fetch(images: ImagesArg = None, arch: ArchOpt = None, matrix: MatrixOpt = MATRIX_FILE,
          into: IntoOpt = None, mirror: MirrorOpt = None, locked: LockedOpt = False,
          update_lock: UpdateLockOpt = False, as_json: JsonOpt = False) -> None:
    """Fetch the downloads the selected builds need into the cache, checksums verified.

    A checksum neither pinned in matrix.yml nor locked is recorded in the recipe's
    downloads.lock, with a warning (--locked refuses such downloads instead; --update-lock
    records every unpinned download's checksum afresh). Exit 0 when every file is in hand,
    5 when some failed, 6 when all did.
    """
    from xbuild.pipeline.fetch import fetch as fetch_all

    if locked and update_lock:
        raise SelectionError("--locked refuses a changed lock and --update-lock changes it: "
                             "pass one")
    the_matrix, the_plan = load_plan(matrix, images, arch)
    fetched = fetch_all(the_matrix, the_plan, mirror=checked_mirror(mirror), into=into,
                        console=State.console, locked=locked, update_lock=update_lock)
    if as_json:
        print_json({"files": {url: str(path) for url, path in fetched.files.items()},
                    "failed": fetched.failed})
    if not fetched.files and not fetched.failed:
        raise NothingToDo("the selected images declare no downloads")
    finish([True] * len(fetched.files) + [False] * len(fetched.failed))
