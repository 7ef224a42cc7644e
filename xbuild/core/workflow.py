"""`xbuild workflow github`: the GitHub Actions workflow of a matrix, as YAML text. Pure.

A job per runner builds and pushes the arches that runner builds (`xbuild all --push --arch`,
which skips what is up to date and publishes no list) and uploads its build record; one merge
job then publishes exactly the digests those records name (`xbuild manifest --from`), and signs
and attests them with cosign, keyless or with a key from the secrets. An image one of whose
arches failed gets no list; every other list is published. A weekly run (and a run by hand)
first bootstraps the Debian bases again (`xbuild bases`): a base whose packages changed gets a
new digest, which changes the identity of exactly the images built on it.

Every value that reaches the YAML comes from the validated matrix or is checked by
workflow_options.py, and the document is emitted by a YAML dumper, so no option can inject a
key, an expression or a shell word. No `run:` script holds a `${{ }}` expression: scripts read
environment variables only.
"""

from __future__ import annotations

import shlex
import textwrap
from typing import Any

from xbuild.core.actions import (
    CHECKOUT,
    COSIGN_INSTALLER,
    COSIGN_RELEASE,
    DOWNLOAD,
    LOGIN,
    UPLOAD,
    with_versions,
)
from xbuild.core.matrix import Matrix
from xbuild.core.refs import registry_of
from xbuild.core.runners import BuildJob
from xbuild.core.workflow_options import DEFAULT_MATRIX, WorkflowSpec
from xbuild.core.yaml_out import dump_yaml

USERNAME_SECRET = "REGISTRY_USERNAME"
TOKEN_SECRET = "REGISTRY_TOKEN"
KEY_SECRET = "COSIGN_PRIVATE_KEY"  # --signing key: the private key's PEM text
PASSWORD_SECRET = "COSIGN_PASSWORD"  # and its password, which cosign reads from its environment
KEY_FILE = "cosign.key"  # under $RUNNER_TEMP in the merge job, removed when it ends
RECORD_ARTIFACT = "build-record-"  # + job: one artifact per job, as upload-artifact needs
LOGS_ARTIFACT = "xbuild-logs-"
RUNS = "xbuild-runs"  # under $RUNNER_TEMP, which the runner empties before each job
RECORDS = "build-records"  # under $RUNNER_TEMP in the merge job
MERGE_JOB = "merge"
BASES_JOB = "bases"
BUILD_MINUTES = 360  # GitHub-hosted jobs stop at 6 h; QEMU builds take long


# --- the document ------------------------------------------------------------------------


def github_workflow(matrix: Matrix, spec: WorkflowSpec) -> str:
    """The workflow file's text: a header comment, then the document. Deterministic."""
    return _header(matrix, spec) + with_versions(dump_yaml(document(spec)))


def document(spec: WorkflowSpec) -> dict[str, Any]:
    first = list(spec.jobs[0].runner.labels)  # the merge (and bases) job runs there
    build = {job.id: _build_job(job, spec) for job in spec.jobs}
    bases = {BASES_JOB: _bases_job(spec, first)} if spec.bases else {}
    on: dict[str, Any] = {"push": {"branches": list(spec.branches)}}
    if spec.schedule is not None:
        on["schedule"] = [{"cron": spec.schedule}]
    on["workflow_dispatch"] = {"inputs": _inputs(spec)}
    return {
        "name": "images",
        "on": on,
        "permissions": {"contents": "read"},
        # One release per ref at a time; a running release is never cancelled halfway.
        "concurrency": {"group": f"{expr('github.workflow')}-{expr('github.ref')}",
                        "cancel-in-progress": False},
        "env": {"NAMESPACE": spec.namespace},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": {**bases, **build, MERGE_JOB: _merge_job(spec, first, list(build))},
    }


def expr(text: str) -> str:
    """A GitHub Actions expression: evaluated by the runner, never by a shell."""
    return "${{ " + text + " }}"


def _inputs(spec: WorkflowSpec) -> dict[str, Any]:
    inputs: dict[str, Any] = {"rebuild": {
        "description": "Images to rebuild even if up to date, separated by spaces (with their "
                       "children); all: every image. Empty: only what changed.",
        "type": "string", "required": False, "default": ""}}
    if spec.bases:
        inputs["bases"] = {"description": "Bootstrap the Debian bases again first, as the "
                                          "scheduled run does", "type": "boolean",
                           "required": False, "default": True}
    return inputs


# The rebuild input reaches the script as an environment variable, word-split by `read` (which
# expands no glob); `all` is xbuild's `--rebuild=*`. An unknown image stops the job (exit 2).
_REBUILD = """\
rebuild=()
read -ra images <<<"$REBUILD_IMAGES"
for image in "${images[@]}"; do
  if [[ $image == all ]]; then rebuild+=(--rebuild='*'); else rebuild+=(--rebuild="$image"); fi
done
"""


def _build_job(job: BuildJob, spec: WorkflowSpec) -> dict[str, Any]:
    runs = f"{expr('runner.temp')}/{RUNS}"
    arches = [word for arch in job.arches for word in ("--arch", arch.name)]
    needs: dict[str, Any] = {
        "needs": [BASES_JOB],
        # Runs when the bases job was skipped (a push), not when it failed.
        "if": expr(f"!cancelled() && needs.{BASES_JOB}.result != 'failure'"),
    } if spec.bases else {}
    return {
        "name": f"build {', '.join(arch.name for arch in job.arches)}",
        **needs,
        "runs-on": list(job.runner.labels),
        "permissions": {"contents": "read"},
        "timeout-minutes": BUILD_MINUTES,
        "steps": [
            *_setup_steps(spec.namespace),
            {"name": f"Build, verify and push {', '.join(a.name for a in job.arches)}",
             "env": {"REBUILD_IMAGES": expr("inputs.rebuild")},
             # --arch leaves the other arches out, so no list is published here: the merge
             # job does that once, from the records, which name only images that passed
             # --verify. --locked: a download nothing pins fails the job before anything is
             # fetched, rather than being trusted on first use on a runner.
             "run": _REBUILD + _xbuild(spec, "all", "--push", "--verify", "--locked", *arches,
                                       "--log-dir", f'"$RUNNER_TEMP/{RUNS}"')
             + ' "${rebuild[@]}"\n'},
            # The run folder's evidence/ (each target's SBOM and provenance) goes along for
            # the merge job to attest. Both paths start at xbuild-runs/, so the artifact keeps
            # <run folder>/build-record.json and <run folder>/evidence/.
            {"name": "Upload the build record and its evidence", "if": "always()",
             "uses": UPLOAD.uses,
             "with": {"name": RECORD_ARTIFACT + job.id.removeprefix("build-"),
                      "path": f"{runs}/*/build-record.json\n{runs}/*/evidence/\n",
                      "if-no-files-found": "error"}},
            _upload_logs(job.id.removeprefix("build-")),
        ],
    }


def _upload_logs(name: str) -> dict[str, Any]:
    return {"name": "Upload the run logs", "if": "always()", "uses": UPLOAD.uses,
            "with": {"name": LOGS_ARTIFACT + name, "path": f"{expr('runner.temp')}/{RUNS}/",
                     "if-no-files-found": "warn"}}


def _bases_job(spec: WorkflowSpec, labels: list[str]) -> dict[str, Any]:
    """Scheduled runs and runs by hand (unless told not to) bootstrap the bases first; a push
    builds on the bases already published."""
    return {
        "name": "bootstrap the Debian bases",
        "if": expr("github.event_name == 'schedule' || (github.event_name == "
                   "'workflow_dispatch' && inputs.bases)"),
        "runs-on": labels,
        "permissions": {"contents": "read"},
        "timeout-minutes": BUILD_MINUTES,
        "steps": [
            *_setup_steps(spec.namespace),
            {"name": "Bootstrap every arch's bases and push them",
             "run": _xbuild(spec, "bases", "--log-dir", f'"$RUNNER_TEMP/{RUNS}"') + "\n"},
            _upload_logs(BASES_JOB),
        ],
    }


def _merge_job(spec: WorkflowSpec, labels: list[str], needs: list[str]) -> dict[str, Any]:
    """The one job that moves the release's tags, and so the one that signs: keyless signing
    gives it, and it alone, `id-token: write` (the OIDC token cosign trades for a certificate)."""
    permissions = {"contents": "read"}
    if spec.signing == "keyless":
        permissions["id-token"] = "write"
    publish: dict[str, Any] = {"name": ("Publish the lists of what the records name"
                                        if spec.signing == "none" else
                                        "Publish and sign the lists of what the records name")}
    if spec.signing == "key":  # the password reaches xbuild (and so cosign) as a variable only
        publish["env"] = {PASSWORD_SECRET: expr(f"secrets.{PASSWORD_SECRET}")}
    publish["run"] = _merge_script(spec)
    return {
        "name": "publish manifest lists",
        "needs": needs,
        # Run when an arch failed too: its images' lists are withheld, the others published.
        "if": expr("!cancelled()"),
        "runs-on": labels,
        "permissions": permissions,
        "timeout-minutes": 60,
        "steps": [
            *_setup_steps(spec.namespace),
            {"name": "Download the build records and their evidence", "uses": DOWNLOAD.uses,
             "with": {"pattern": RECORD_ARTIFACT + "*",
                      "path": f"{expr('runner.temp')}/{RECORDS}"}},
            *_signing_steps(spec.signing),
            publish,
            *([_REMOVE_KEY] if spec.signing == "key" else []),
        ],
    }


# The key is written by a builtin (printf), so it is on no command line, into a file only the
# runner's user can read; the job refuses to publish unsigned when the secret is missing.
_WRITE_KEY = f"""\
if [[ -z $COSIGN_PRIVATE_KEY ]]; then
  echo "::error::the repository secret {KEY_SECRET} is not set: nothing can be signed (set it, \
or regenerate the workflow with --signing keyless or none)"
  exit 1
fi
umask 077
printf '%s\\n' "$COSIGN_PRIVATE_KEY" >"$RUNNER_TEMP/{KEY_FILE}"
"""
_REMOVE_KEY = {"name": "Remove the signing key", "if": "always()",
               "run": f'rm -f "$RUNNER_TEMP/{KEY_FILE}"\n'}


def _signing_steps(signing: str) -> list[dict[str, Any]]:
    """What comes before the publish step: cosign installed, and for a key, the key written."""
    if signing == "none":
        return []
    steps: list[dict[str, Any]] = [
        {"name": f"Install cosign {COSIGN_RELEASE}", "uses": COSIGN_INSTALLER.uses,
         "with": {"cosign-release": COSIGN_RELEASE}}]
    if signing == "key":
        steps.append({"name": f"Write the signing key from the secret {KEY_SECRET}",
                      "env": {KEY_SECRET: expr(f"secrets.{KEY_SECRET}")}, "run": _WRITE_KEY})
    return steps


def _sign_words(signing: str) -> tuple[str, ...]:
    if signing == "keyless":
        return ("--sign-keyless",)
    if signing == "key":
        return ("--sign-key", f'"$RUNNER_TEMP/{KEY_FILE}"')
    return ()


def _merge_script(spec: WorkflowSpec) -> str:
    # download-artifact puts each artifact in its own folder, and upload-artifact kept the run
    # folder's name: $RUNNER_TEMP/build-records/build-record-<job>/<time>/build-record.json.
    # A failed job may have uploaded none: its arches are then missing and their lists withheld.
    return "\n".join((
        "shopt -s nullglob globstar",
        f'records=("$RUNNER_TEMP"/{RECORDS}/**/build-record.json)',
        'if (( ${#records[@]} == 0 )); then',
        '  echo "::error::no build record was uploaded: no manifest list is published"',
        "  exit 1",
        "fi",
        "from=()",
        'for record in "${records[@]}"; do from+=(--from "$record"); done',
        _xbuild(spec, "manifest", *_sign_words(spec.signing)) + ' "${from[@]}"',
    )) + "\n"


# The host set-up needs root (packages, binfmt_misc, dockerd); xbuild installs as the runner's
# user, so the checkout holds nothing root owns when the next job cleans it.
INSTALL = ("python3 -m venv .venv\n"
           ".venv/bin/pip install --quiet --disable-pip-version-check .\n")


def _setup_steps(namespace: str) -> list[dict[str, Any]]:
    login: dict[str, Any] = {"username": expr(f"secrets.{USERNAME_SECRET}"),
                             "password": expr(f"secrets.{TOKEN_SECRET}")}
    registry = registry_of(namespace)
    if registry != "docker.io":
        login = {"registry": registry, **login}
    return [
        {"name": "Check out", "uses": CHECKOUT.uses, "with": {"persist-credentials": False}},
        {"name": "Set up the host (root: Docker, QEMU, mmdebstrap, skopeo)",
         "run": "sudo bash ci/host-setup.sh\n"},
        {"name": "Install xbuild", "run": INSTALL},
        {"name": "Log in to the registry", "uses": LOGIN.uses, "with": login},
    ]


def _xbuild(spec: WorkflowSpec, command: str, *words: str) -> str:
    """An xbuild command line; `words` are shell words, quoted where they need it."""
    matrix = ["-f", shlex.quote(spec.matrix_file)] if spec.matrix_file != DEFAULT_MATRIX else []
    return " ".join([".venv/bin/xbuild", command, *matrix, *words, '--namespace "$NAMESPACE"'])


def _job_lines(spec: WorkflowSpec) -> list[str]:
    lines = []
    for job in spec.jobs:
        lines.append(f"  {job.id} on [{', '.join(job.runner.labels)}]:")
        lines += [f"    {p.arch.name}: {p.how}" for p in job.placements]
    return lines


def _signing_lines(signing: str) -> list[str]:
    if signing == "none":
        return ["Signing: none (--signing none): nothing is signed or attested."]
    how = ("keyless: with GitHub's OIDC token for a Sigstore certificate (that job alone has "
           "id-token: write)" if signing == "keyless" else
           f"with the key in the secret {KEY_SECRET}, its password in {PASSWORD_SECRET}; they "
           "reach cosign as a file and an environment variable, never on a command line")
    return textwrap.wrap("Signing: the merge job, the only one that moves tags, signs what it "
                         "publishes and attests each image's SBOM and provenance with cosign "
                         f"{COSIGN_RELEASE}, {how}.", width=88)


def _header(matrix: Matrix, spec: WorkflowSpec) -> str:
    schedule = (f"cron {spec.schedule!r} (UTC)" if spec.schedule else "none (--no-schedule)")
    lines = (
        f"Generated from {spec.matrix_file} by this command; do not edit, run it again:",
        f"  {spec.command}",
        "Copy it to .github/workflows/ in the repository that publishes the images.",
        "",
        "One job per runner, building these arches:",
        *_job_lines(spec),
        "Each builds and pushes its arches (`xbuild all --push --arch`: what is up to date is",
        "skipped, no list is published) and uploads its build record and evidence (SBOM and",
        "provenance); the merge job then publishes exactly the digests the records name",
        "(`xbuild manifest --from`). An image one of whose arches failed gets no list; every",
        "other list is published.",
        f"Scheduled runs: {schedule}. "
        + ("They and runs by hand bootstrap the bases first" if spec.bases else
           "They rebuild what a new base digest changed"),
        *(["(`xbuild bases`): a base with new packages gets a new digest, which rebuilds",
           "the images built on it (README.md, \"Security refresh\")."] if spec.bases else []),
        f"Images go to {spec.namespace}/<image>:{matrix.tag}.",
        f"Secrets: {USERNAME_SECRET} and {TOKEN_SECRET}, given to docker/login-action only,",
        "never on a command line. Self-hosted runners need Docker >= 23 with buildx, their user",
        "in the docker group, and sudo for ci/host-setup.sh.",
        *_signing_lines(spec.signing),
    )
    return "".join(f"# {line}".rstrip() + "\n" for line in lines) + "\n"
