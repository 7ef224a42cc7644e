"""`xbuild workflow github`: write the CI workflow of the matrix."""

from __future__ import annotations

from pathlib import Path

import typer

from xbuild.cli.common import State, app, handles_errors
from xbuild.cli.options import Options, takes
from xbuild.core.matrix import load_matrix, work_tree
from xbuild.core.workflow import github_workflow, workflow_spec
from xbuild.host.paths import write_text_atomically

workflow_app = typer.Typer(help="Write CI workflows from matrix.yml.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("github")
@takes("matrix", "namespace", "runners", "branches", "output")
@handles_errors
def github(o: Options) -> None:
    """Write a GitHub Actions workflow: one job per arch on self-hosted runners, then a merge.

    Each arch's job builds and pushes that arch (`xbuild all --push --arch`, skipping what is
    up to date) and uploads its build record and logs; the merge job publishes exactly the
    digests the records name (`xbuild manifest --from`), withholding the list of an image
    whose arch failed. Credentials come from the secrets REGISTRY_USERNAME and REGISTRY_TOKEN
    through docker/login-action. The output is the same for the same matrix and options.
    """
    matrix = load_matrix(o.matrix)
    spec = workflow_spec(matrix, namespace=o.namespace, runners=o.runners or (),
                         branches=o.branches or (), matrix_file=in_checkout(o.matrix))
    text = github_workflow(matrix, spec)
    if str(o.output) == "-":
        typer.echo(text, nl=False)
        return
    o.output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(o.output, text)
    State.console.say(f"wrote {o.output}: {len(spec.runners)} build jobs "
                      f"({', '.join(arch.name for arch, _ in spec.runners)}) and a merge job")


def in_checkout(matrix: Path) -> str:
    """The matrix as the workflow names it: relative to the git work tree holding it."""
    path = matrix.resolve()
    return path.relative_to(work_tree(path.parent)).as_posix()
