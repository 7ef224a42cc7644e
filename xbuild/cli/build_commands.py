"""Commands that plan, fetch, build and publish: plan, build, all, manifest, fetch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from xbuild.cli.common import (
    State,
    app,
    checked_mirror,
    checked_rebuild,
    finish,
    handles_errors,
    load_plan,
    node_map,
)
from xbuild.cli.options import Options, takes
from xbuild.core.errors import ExitCode, NothingToDo, SelectionError
from xbuild.core.identity import inputs_as_dict
from xbuild.core.matrix import load_matrix
from xbuild.core.plan import Plan, plan_as_dict
from xbuild.core.results import list_outcomes
from xbuild.core.settings import SigningSettings
from xbuild.output.console import print_json
from xbuild.output.views import manifests_grid, plan_grid

if TYPE_CHECKING:
    from xbuild.core.identity import Resolution

SELECTION = ("images", "arch", "matrix", "namespace", "tag")
BUILDING = ("arch", "push", "matrix", "namespace", "tag", "builder", "jobs", "dry_run",
            "allow_partial", "parents", "verify", "rebuild", "log_dir", "mirror", "locked",
            "sign_key", "sign_keyless", "as_json")


@app.command()
@takes(*SELECTION, "parents", "resolve", "locked", "as_json")
@handles_errors
def plan(o: Options) -> None:
    """Show what a build would do: targets level by level, their identities, tags and lists.

    Reads the matrix and the recipes, and runs no docker command. An identity that needs an
    external base's digest shows as unknown unless --resolve reads the registry.
    """
    from xbuild.host.cmd import Shell
    from xbuild.host.published import PublishedReader
    from xbuild.pipeline.download_step import downloads_wanted
    from xbuild.pipeline.resolve import resolve

    matrix, the_plan = load_plan(o)
    downloads_wanted(matrix, the_plan, locked=o.locked)
    registry = PublishedReader(Shell(echo=State.console.command)) if o.resolve else None
    resolution = resolve(matrix, the_plan, registry, push=o.resolve)
    if o.as_json:
        print_json(plan_json(the_plan, resolution, resolved=o.resolve))
        return
    State.console.grid(plan_grid(the_plan, resolution.identities,
                                 resolution.up_to_date if o.resolve else None))
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


@handles_errors
def build(o: Options) -> None:
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

    the_matrix, the_plan = load_plan(o)
    signing = signing_options(o)
    settings = BuildSettings(push=o.push, jobs=o.jobs, dry_run=o.dry_run,
                             allow_partial=o.allow_partial, verify=o.verify or signing.on,
                             log_dir=o.log_dir, signing=signing,
                             mirror=checked_mirror(o.mirror),
                             rebuild=checked_rebuild(o.rebuild, the_matrix),
                             builders=node_map(o, the_matrix), locked=o.locked)
    report = run_build(the_matrix, the_plan, settings, State.console)
    if o.as_json:
        print_json(report.as_dict())
    if report.exit_code != ExitCode.OK:
        raise typer.Exit(int(report.exit_code))


app.command("build")(takes("images", *BUILDING)(build))
app.command("all", help="Build every image of the matrix: `build` with no IMAGE.")(
    takes(*[n for n in BUILDING if n != "parents"], images=None, parents=True)(build))


def signing_options(o: Options) -> SigningSettings:
    if o.sign_key is not None and o.sign_keyless:
        raise SelectionError("--sign-key or --sign-keyless, not both")
    return SigningSettings(key=o.sign_key, keyless=o.sign_keyless)


@app.command()
@takes("images", "matrix", "namespace", "tag", "records", "allow_partial", "dry_run",
       "sign_key", "sign_keyless", "as_json")
@handles_errors
def manifest(o: Options) -> None:
    """Publish per-arch tags and manifest lists over images already pushed: the merge step
    when each arch was built on its own runner.

    With --from, exactly the staged digests the build records name: each per-arch tag moves
    to its digest, then the list. Without --from, only per-arch tags already public whose
    image carries the identity this checkout computes (never a staged image). Otherwise no
    tag of the image moves, naming the arch (--allow-partial: published without it).
    """
    from xbuild.pipeline.manifest import manifest as publish

    results = publish(load_matrix(o.matrix), images=o.images or (), namespace=o.namespace,
                      tag=o.tag, allow_partial=o.allow_partial, dry_run=o.dry_run,
                      console=State.console, records=o.records or (),
                      signing=signing_options(o))
    if o.as_json:
        print_json([{"ref": str(r.manifest.ref), "status": str(r.status),
                     "platforms": list(r.platforms), "detail": r.detail} for r in results])
    finish(list_outcomes(results))


@app.command()
@takes("images", "arch", "matrix", "into", "mirror", "locked", "update_lock", "as_json")
@handles_errors
def fetch(o: Options) -> None:
    """Fetch the downloads the selected builds need into the cache, checksums verified.

    A checksum neither pinned in matrix.yml nor locked is recorded in the recipe's
    downloads.lock, with a warning (--locked refuses such downloads instead; --update-lock
    records every unpinned download's checksum afresh). Exit 0 when every file is in hand,
    5 when some failed, 6 when all did.
    """
    from xbuild.pipeline.fetch import fetch as fetch_all

    if o.locked and o.update_lock:
        raise SelectionError("--locked refuses a changed lock and --update-lock changes it: "
                             "pass one")
    the_matrix, the_plan = load_plan(o)
    fetched = fetch_all(the_matrix, the_plan, mirror=checked_mirror(o.mirror), into=o.into,
                        console=State.console, locked=o.locked, update_lock=o.update_lock)
    if o.as_json:
        print_json({"files": {url: str(path) for url, path in fetched.files.items()},
                    "failed": fetched.failed})
    if not fetched.files and not fetched.failed:
        raise NothingToDo("the selected images declare no downloads")
    finish([True] * len(fetched.files) + [False] * len(fetched.failed))
