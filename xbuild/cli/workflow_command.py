"""`xbuild workflow github` and `xbuild workflow dependabot`: write the CI files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xbuild.cli.common import State, app, handles_errors
from xbuild.cli.options import MATRIX_FILE, MatrixOpt, NamespaceOpt
from xbuild.core.actions import dependabot_config
from xbuild.core.matrix import load_matrix, work_tree
from xbuild.core.workflow import github_workflow
from xbuild.core.workflow_options import workflow_spec
from xbuild.host.paths import write_text_atomically

workflow_app = typer.Typer(help="Write CI workflows from matrix.yml.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")

RunnerOpt = Annotated[list[str] | None, typer.Option(
    "--runner", metavar="ARCH=LABEL,...", show_default=False,
    help="The runner labels of an arch's job (repeatable), e.g. arm64v8=self-hosted,linux,jetson "
         "or arm64v8=ubuntu-24.04-arm. Default: self-hosted,linux plus X64 (amd64) or ARM64 "
         "(arm64v8, and arm32v7, which goes along with arm64v8's runner). Never a 32-bit ARM "
         "runner.")]
HostedOpt = Annotated[bool, typer.Option(
    "--hosted", help="Use GitHub-hosted runners: ubuntu-24.04 for amd64, ubuntu-24.04-arm for "
                     "arm64v8 and arm32v7 (under QEMU there).")]
BranchOpt = Annotated[list[str] | None, typer.Option(
    "--branch", show_default=False,
    help="Run on pushes to this branch (repeatable; default main). The workflow can also be "
         "started by hand.")]
ScheduleOpt = Annotated[str | None, typer.Option(
    metavar="CRON", show_default=False,
    help="When scheduled runs rebuild what new bases changed, as cron (UTC; default weekly: "
         "'23 4 * * 1').")]
NoScheduleOpt = Annotated[bool, typer.Option(
    "--no-schedule", help="No scheduled runs: only pushes and runs by hand.")]
SigningOpt = Annotated[str, typer.Option(
    "--signing", metavar="keyless|key|none",
    help="How the merge job signs, with cosign, the lists and per-arch images it publishes, and "
         "attests their SBOM and provenance: keyless (GitHub's OIDC token; that job alone gets "
         "id-token: write), key (a key pair of your own, from the repository secrets "
         "COSIGN_PRIVATE_KEY and COSIGN_PASSWORD), or none (no cosign, nothing signed).")]
WorkflowOutputOpt = Annotated[Path, typer.Option(
    "--output", "-o", help="Write the workflow to this file; - for stdout.")]
DependabotOutputOpt = Annotated[Path, typer.Option(
    "--output", "-o", help="Write the Dependabot configuration to this file; - for stdout.")]


@workflow_app.command("github")
@handles_errors
def github(matrix: MatrixOpt = MATRIX_FILE, namespace: NamespaceOpt = None,
           runners: RunnerOpt = None, hosted: HostedOpt = False, branches: BranchOpt = None,
           schedule: ScheduleOpt = None, no_schedule: NoScheduleOpt = False,
           signing: SigningOpt = "keyless",
           output: WorkflowOutputOpt = Path(".github/workflows/images.yml")) -> None:
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
    the_matrix = load_matrix(matrix)
    spec = workflow_spec(the_matrix, namespace=namespace, runners=runners or (), hosted=hosted,
                         branches=branches or (), matrix_file=in_checkout(matrix),
                         schedule=schedule, no_schedule=no_schedule, signing=signing)
    jobs = ", ".join(f"{job.id} on {','.join(job.runner.labels)}" for job in spec.jobs)
    write(output, github_workflow(the_matrix, spec), f"{len(spec.jobs)} build jobs ({jobs}) "
                                                     "and a merge job")


@workflow_app.command("dependabot")
@handles_errors
def dependabot(output: DependabotOutputOpt = Path(".github/dependabot.yml")) -> None:
    """Write .github/dependabot.yml: weekly proposals for newer releases of the pinned actions.

    Take a proposal's commit into xbuild/core/actions.py and regenerate the workflows (README,
    "Pinned actions").
    """
    write(output, dependabot_config(), "github-actions updates, weekly")


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
