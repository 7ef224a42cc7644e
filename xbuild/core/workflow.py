"""`xbuild workflow github`: the GitHub Actions workflow of a matrix, as YAML text. Pure.

One job per arch builds and pushes that arch on its own runner (`xbuild all --push --arch`,
which skips what is up to date and publishes no list) and uploads its build record; one merge
job then publishes exactly the digests those records name (`xbuild manifest --from`). An image
one of whose arches failed gets no list; every other list is published.

Every value that reaches the YAML comes from the validated matrix or is checked here, and the
document is emitted by a YAML dumper, so no option can inject a key, an expression or a shell
word. No `run:` script holds a `${{ }}` expression: scripts read environment variables only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml

from xbuild.core.errors import SelectionError
from xbuild.core.matrix import Matrix
from xbuild.core.platforms import ARCH_NAMES, Arch, arch_named
from xbuild.core.refs import namespace_problem, quoted, registry_of

CHECKOUT = "actions/checkout@v4"
LOGIN = "docker/login-action@v3"
UPLOAD = "actions/upload-artifact@v4"
DOWNLOAD = "actions/download-artifact@v4"
USERNAME_SECRET = "REGISTRY_USERNAME"
TOKEN_SECRET = "REGISTRY_TOKEN"
RECORD_ARTIFACT = "build-record-"  # + arch: one artifact per arch, as upload-artifact@v4 needs
LOGS_ARTIFACT = "xbuild-logs-"
RUNS = "xbuild-runs"  # under $RUNNER_TEMP, which the runner empties before each job
RECORDS = "build-records"  # under $RUNNER_TEMP in the merge job
MERGE_JOB = "merge"
DEFAULT_MATRIX = "matrix.yml"
DEFAULT_BRANCHES = ("main",)
# GitHub's architecture labels for self-hosted runners.
DEFAULT_LABELS = {
    "amd64": ("self-hosted", "linux", "X64"),
    "arm64v8": ("self-hosted", "linux", "ARM64"),
    "arm32v7": ("self-hosted", "linux", "ARM"),
}
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_BRANCH = re.compile(r"[A-Za-z0-9_*][A-Za-z0-9._/*-]{0,199}")
_MATRIX_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")
RUNNER_FORM = "ARCH=LABEL[,LABEL...], e.g. arm64v8=self-hosted,linux,ARM64"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSpec:
    """What the workflow is made from besides the matrix; checked by `workflow_spec`."""

    namespace: str
    runners: tuple[tuple[Arch, tuple[str, ...]], ...]  # every arch of the matrix, table order
    branches: tuple[str, ...] = DEFAULT_BRANCHES
    matrix_file: str = DEFAULT_MATRIX  # the matrix as the checkout names it
    command: str = "xbuild workflow github"  # the command line that regenerates the file


def workflow_spec(matrix: Matrix, *, namespace: str | None = None, runners: Sequence[str] = (),
                  branches: Sequence[str] = (), matrix_file: str = DEFAULT_MATRIX
                  ) -> WorkflowSpec:
    """The checked options; SelectionError (one line, exit 2) for anything malformed."""
    _check(namespace, branches, matrix_file)
    given = parse_runners(runners, matrix.all_arches)
    spec = WorkflowSpec(
        namespace=namespace or matrix.namespace, branches=tuple(branches) or DEFAULT_BRANCHES,
        matrix_file=matrix_file,
        runners=tuple((arch, given.get(arch.name) or _default_labels(arch))
                      for arch in matrix.all_arches))
    return replace(spec, command=_command(matrix, spec, given))


def _check(namespace: str | None, branches: Sequence[str], matrix_file: str) -> None:
    if namespace is not None and (problem := namespace_problem(namespace)):
        raise SelectionError(f"--namespace {quoted(namespace)}: {problem}")
    for branch in branches:
        if not _BRANCH.fullmatch(branch) or ".." in branch:
            raise SelectionError(f"--branch {quoted(branch)}: not a branch name or pattern "
                                 "(letters, digits, . _ / - and *)")
    if not _MATRIX_FILE.fullmatch(matrix_file) or ".." in matrix_file.split("/"):
        raise SelectionError(f"-f {quoted(matrix_file)}: the matrix must lie inside the "
                             "checkout the workflow runs in")


def parse_runners(values: Sequence[str], arches: Sequence[Arch]) -> dict[str, tuple[str, ...]]:
    """`--runner ARCH=LABEL,LABEL` values -> arch name -> labels, each arch once, each arch
    one the matrix builds."""
    given: dict[str, tuple[str, ...]] = {}
    for value in values:
        arch, labels = _runner(value, arches)
        if arch.name in given:
            raise SelectionError(f"--runner {quoted(value)}: {arch.name} is given twice")
        given[arch.name] = labels
    return given


def _runner(value: str, arches: Sequence[Arch]) -> tuple[Arch, tuple[str, ...]]:
    name, sep, rest = value.partition("=")
    if not sep or not name or not rest:
        raise SelectionError(f"--runner {quoted(value)}: expected {RUNNER_FORM}")
    arch = arch_named(name)
    if arch is None:
        raise SelectionError(f"--runner {quoted(value)}: unknown architecture {quoted(name)}; "
                             f"known: {', '.join(ARCH_NAMES)}")
    if arch not in arches:
        raise SelectionError(f"--runner {quoted(value)}: the matrix builds nothing for "
                             f"{arch.name} (its arches: {', '.join(a.name for a in arches)})")
    labels = tuple(rest.split(","))
    bad = next((label for label in labels if not _LABEL.fullmatch(label)), None)
    if bad is not None:
        raise SelectionError(f"--runner {quoted(value)}: {quoted(bad)} is not a runner label "
                             "(letters, digits, . _ -)")
    return arch, labels


def _default_labels(arch: Arch) -> tuple[str, ...]:
    if arch.name not in DEFAULT_LABELS:
        raise SelectionError(f"{arch.name} has no default runner labels: pass --runner "
                             f"{arch.name}=LABEL[,LABEL...]")
    return DEFAULT_LABELS[arch.name]


def _command(matrix: Matrix, spec: WorkflowSpec, given: Mapping[str, tuple[str, ...]]) -> str:
    """The command line that writes this workflow again: the options that are not defaults."""
    words = ["xbuild", "workflow", "github"]
    if spec.matrix_file != DEFAULT_MATRIX:
        words += ["-f", spec.matrix_file]
    if spec.namespace != matrix.namespace:
        words += ["--namespace", spec.namespace]
    for arch, labels in spec.runners:
        if arch.name in given:
            words += ["--runner", f"{arch.name}={','.join(labels)}"]
    if spec.branches != DEFAULT_BRANCHES:
        for branch in spec.branches:
            words += ["--branch", branch]
    return shlex.join(words)


# --- the document ------------------------------------------------------------------------


def github_workflow(matrix: Matrix, spec: WorkflowSpec) -> str:
    """The workflow file's text: a header comment, then the document. Deterministic."""
    return _header(matrix, spec) + _dump(document(spec))


def document(spec: WorkflowSpec) -> dict[str, Any]:
    build_jobs = {build_job_id(arch): _build_job(arch, labels, spec)
                  for arch, labels in spec.runners}
    return {
        "name": "images",
        "on": {"push": {"branches": list(spec.branches)}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        # One release per ref at a time; a running release is never cancelled halfway.
        "concurrency": {"group": f"{expr('github.workflow')}-{expr('github.ref')}",
                        "cancel-in-progress": False},
        "env": {"NAMESPACE": spec.namespace},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": {**build_jobs, MERGE_JOB: _merge_job(spec, list(build_jobs))},
    }


def expr(text: str) -> str:
    """A GitHub Actions expression: evaluated by the runner, never by a shell."""
    return "${{ " + text + " }}"


def build_job_id(arch: Arch) -> str:
    return f"build-{arch.name}"


def _build_job(arch: Arch, labels: tuple[str, ...], spec: WorkflowSpec) -> dict[str, Any]:
    runs = f"{expr('runner.temp')}/{RUNS}"
    return {
        "name": f"build {arch.name}",
        "runs-on": list(labels),
        "steps": [
            *_setup_steps(spec.namespace),
            {"name": f"Build, verify and push {arch.name}",
             # --arch leaves the other arches out, so no list is published here: the merge
             # job does that once, from the records, which name only images that passed
             # --verify. --locked: a download nothing pins fails the job before anything is
             # fetched, rather than being trusted on first use on a runner.
             "run": _xbuild(spec, "all", "--push", "--verify", "--locked", "--arch", arch.name,
                            "--log-dir", f'"$RUNNER_TEMP/{RUNS}"') + "\n"},
            {"name": "Upload the build record", "if": "always()", "uses": UPLOAD,
             "with": {"name": RECORD_ARTIFACT + arch.name,
                      "path": f"{runs}/*/build-record.json", "if-no-files-found": "error"}},
            {"name": "Upload the run logs", "if": "always()", "uses": UPLOAD,
             "with": {"name": LOGS_ARTIFACT + arch.name, "path": f"{runs}/",
                      "if-no-files-found": "warn"}},
        ],
    }


def _merge_job(spec: WorkflowSpec, needs: list[str]) -> dict[str, Any]:
    return {
        "name": "publish manifest lists",
        "needs": needs,
        # Run when an arch failed too: its images' lists are withheld, the others published.
        "if": expr("!cancelled()"),
        "runs-on": list(spec.runners[0][1]),  # any arch will do: amd64's runner by default
        "steps": [
            *_setup_steps(spec.namespace),
            {"name": "Download the build records", "uses": DOWNLOAD,
             "with": {"pattern": RECORD_ARTIFACT + "*",
                      "path": f"{expr('runner.temp')}/{RECORDS}"}},
            {"name": "Publish the lists of what the records name", "run": _merge_script(spec)},
        ],
    }


def _merge_script(spec: WorkflowSpec) -> str:
    # download-artifact puts each artifact in its own folder, and upload-artifact kept the run
    # folder's name: $RUNNER_TEMP/build-records/build-record-<arch>/<time>/build-record.json.
    # A failed job may have uploaded none: its arch is then missing and its lists withheld.
    return "\n".join((
        "shopt -s nullglob globstar",
        f'records=("$RUNNER_TEMP"/{RECORDS}/**/build-record.json)',
        'if (( ${#records[@]} == 0 )); then',
        '  echo "::error::no build record was uploaded: no manifest list is published"',
        "  exit 1",
        "fi",
        "from=()",
        'for record in "${records[@]}"; do from+=(--from "$record"); done',
        _xbuild(spec, "manifest") + ' "${from[@]}"',
    )) + "\n"


def _setup_steps(namespace: str) -> list[dict[str, Any]]:
    login: dict[str, Any] = {"username": expr(f"secrets.{USERNAME_SECRET}"),
                             "password": expr(f"secrets.{TOKEN_SECRET}")}
    registry = registry_of(namespace)
    if registry != "docker.io":
        login = {"registry": registry, **login}
    return [
        {"name": "Check out", "uses": CHECKOUT, "with": {"persist-credentials": False}},
        {"name": "Set up the host and xbuild", "run": "sudo bash ci/setup.sh\n"},
        {"name": "Log in to the registry", "uses": LOGIN, "with": login},
    ]


def _xbuild(spec: WorkflowSpec, command: str, *words: str) -> str:
    """An xbuild command line; `words` are shell words, quoted where they need it."""
    matrix = ["-f", shlex.quote(spec.matrix_file)] if spec.matrix_file != DEFAULT_MATRIX else []
    return " ".join([".venv/bin/xbuild", command, *matrix, *words, '--namespace "$NAMESPACE"'])


def _header(matrix: Matrix, spec: WorkflowSpec) -> str:
    lines = (
        f"Generated from {spec.matrix_file} by this command; do not edit, run it again:",
        f"  {spec.command}",
        "Copy it to .github/workflows/ in the repository that publishes the images.",
        "",
        "One job per arch, each on its own runner (labels):",
        *(f"  {arch.name}: {', '.join(labels)}" for arch, labels in spec.runners),
        "Each builds and pushes its arch (`xbuild all --push --arch`: what is up to date is",
        "skipped, no list is published) and uploads its build record; the merge job then",
        "publishes exactly the digests the records name (`xbuild manifest --from`). An image",
        "one of whose arches failed gets no list; every other list is published.",
        f"Images go to {spec.namespace}/<image>:{matrix.tag}.",
        f"Secrets: {USERNAME_SECRET} and {TOKEN_SECRET}, given to docker/login-action only,",
        "never on a command line. Runners need Docker >= 23 with buildx, and sudo for",
        "ci/setup.sh.",
    )
    return "".join(f"# {line}".rstrip() + "\n" for line in lines) + "\n"


# --- YAML out ----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block mappings, flow lists of scalars, literal blocks for scripts, indented lists."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.SequenceNode:
    flat = all(isinstance(item, str | bool | int) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flat)


def _represent_dict(dumper: yaml.SafeDumper, mapping: dict[str, Any]) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", mapping.items(),
                                    flow_style=not mapping)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)


def _dump(doc: Mapping[str, Any]) -> str:
    return yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, width=4096,
                     allow_unicode=False)

