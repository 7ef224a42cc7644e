"""`xbuild workflow github` and `xbuild workflow dependabot`: write the CI files."""

from __future__ import annotations

from pathlib import Path

import typer

from xbuild.cli.common import State, app, handles_errors
from xbuild.cli.options import Options, takes
from xbuild.core.actions import dependabot_config
from xbuild.core.matrix import load_matrix, work_tree
from xbuild.core.workflow import github_workflow
from xbuild.core.workflow_options import workflow_spec
from xbuild.host.paths import write_text_atomically

workflow_app = typer.Typer(help="Write CI workflows from matrix.yml.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("github")
@takes("matrix", "namespace", "runners", "hosted", "branches", "schedule", "no_schedule",
       "workflow_signing", "output")
@handles_errors
def github(o: Options) -> None:
    """Write a GitHub Actions workflow: a job per runner, then a merge job.

    Each job builds and pushes its arches (`xbuild all --push --arch`, skipping what is up to
    date) and uploads its build record and logs; the merge job publishes exactly the digests
    the records name (`xbuild manifest --from`), withholding the list of an image whose arch
    failed. arm32v7 builds on an ARM64 runner (natively where the CPU has AArch32, else under
    QEMU), never on a 32-bit one. Every action is pinned to a commit. Scheduled runs (weekly by
    default) and runs by hand bootstrap the bases first, so new Debian packages rebuild exactly
    the images built on them. Credentials come from the secrets REGISTRY_USERNAME and
    REGISTRY_TOKEN through docker/login-action. The merge job signs what it publishes with
    cosign, keyless by default (it alone may then ask GitHub for an OIDC token), or with a key
    from the secrets COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (--signing key). The output is the
    same for the same matrix and options.
    """
    matrix = load_matrix(o.matrix)
    spec = workflow_spec(matrix, namespace=o.namespace, runners=o.runners or (),
                         hosted=o.hosted, branches=o.branches or (),
                         matrix_file=in_checkout(o.matrix), schedule=o.schedule,
                         no_schedule=o.no_schedule, signing=o.workflow_signing)
    jobs = ", ".join(f"{job.id} on {','.join(job.runner.labels)}" for job in spec.jobs)
    write(o.output, github_workflow(matrix, spec), f"{len(spec.jobs)} build jobs ({jobs}) "
                                                   "and a merge job")


@workflow_app.command("dependabot")
@takes("dependabot_output")
@handles_errors
def dependabot(o: Options) -> None:
    """Write .github/dependabot.yml: weekly proposals for newer releases of the pinned actions.

    Take a proposal's commit into xbuild/core/actions.py and regenerate the workflows (README,
    "Pinned actions").
    """
    write(o.dependabot_output, dependabot_config(), "github-actions updates, weekly")


def write(output: Path, text: str, what: str) -> None:
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(output, text)
    State.console.say(f"wrote {output}: {what}")


def in_checkout(matrix: Path) -> str:
    """The matrix as the workflow names it: relative to the git work tree holding it."""
    path = matrix.resolve()
    return path.relative_to(work_tree(path.parent)).as_posix()
