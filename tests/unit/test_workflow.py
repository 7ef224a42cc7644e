"""`xbuild workflow github` and `xbuild workflow dependabot`: the generated workflow's structure,
runners, triggers, permissions and errors, and the checked-in files kept current. The lint checks
beside actionlint's are in test_workflow_lint.py; the runner model alone in test_runners.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from tests.unit.conftest import WriteMatrix, write_matrix_file
from tests.unit.test_cli_plan import assert_one_line_error, runner
from xbuild.cli import app

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / ".github" / "workflows" / "images.yml"
TESTS_WORKFLOW = REPO / ".github" / "workflows" / "tests.yml"
DEPENDABOT = REPO / ".github" / "dependabot.yml"
BUILD_JOBS = ("build-amd64", "build-arm64v8-arm32v7")
X64 = ["self-hosted", "linux", "X64"]
ARM64 = ["self-hosted", "linux", "ARM64"]
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
LOGIN = "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121"
UPLOAD = "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"
DOWNLOAD = "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c"
COSIGN_INSTALLER = "sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6"
HOST_SETUP = "sudo bash ci/host-setup.sh\n"
INSTALL = ("python3 -m venv .venv\n"
           ".venv/bin/pip install --quiet --disable-pip-version-check .\n")
LOGIN_SECRETS = {"username": "${{ secrets.REGISTRY_USERNAME }}",
                 "password": "${{ secrets.REGISTRY_TOKEN }}"}
REBUILD = """\
rebuild=()
read -ra images <<<"$REBUILD_IMAGES"
for image in "${images[@]}"; do
  if [[ $image == all ]]; then rebuild+=(--rebuild='*'); else rebuild+=(--rebuild="$image"); fi
done
"""
MERGE_SCRIPT = """\
shopt -s nullglob globstar
records=("$RUNNER_TEMP"/build-records/**/build-record.json)
if (( ${#records[@]} == 0 )); then
  echo "::error::no build record was uploaded: no manifest list is published"
  exit 1
fi
from=()
for record in "${records[@]}"; do from+=(--from "$record"); done
.venv/bin/xbuild manifest --sign-keyless --namespace "$NAMESPACE" "${from[@]}"
"""
WRITE_KEY = """\
if [[ -z $COSIGN_PRIVATE_KEY ]]; then
  echo "::error::the repository secret COSIGN_PRIVATE_KEY is not set: nothing can be signed \
(set it, or regenerate the workflow with --signing keyless or none)"
  exit 1
fi
umask 077
printf '%s\\n' "$COSIGN_PRIVATE_KEY" >"$RUNNER_TEMP/cosign.key"
"""


def small_doc(**changes: Any) -> dict[str, Any]:
    """Three arches by default; `b` only two of them."""
    doc: dict[str, Any] = {
        "namespace": "team", "tag": "latest", "architectures": ["amd64", "arm32v7", "arm64v8"],
        "images": {"a": {"context": "a"},
                   "b": {"context": "b", "architectures": ["amd64", "arm64v8"]}}}
    doc.update(changes)
    return doc


BASES = {"debian:bookworm-slim": {"suite": "bookworm", "mirror": "http://deb.debian.org/debian"}}


def generate(matrix: Path, *args: str) -> Result:
    return runner.invoke(app, ["workflow", "github", "-f", str(matrix), "-o", "-", *args])


def workflow(matrix: Path, *args: str) -> dict[str, Any]:
    result = generate(matrix, *args)
    assert result.exit_code == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


@pytest.fixture
def small(write_matrix: WriteMatrix) -> Path:
    return write_matrix(small_doc())


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job["steps"]
    return found


def runs_on(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {name: job["runs-on"] for name, job in doc["jobs"].items()}


# --- the checked-in files ----------------------------------------------------------------


def test_the_checked_in_workflow_is_what_matrix_yml_generates() -> None:
    result = runner.invoke(app, ["workflow", "github", "-f", str(REPO / "matrix.yml"), "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert CHECKED_IN.read_text(encoding="utf-8") == result.stdout, (
        ".github/workflows/images.yml is out of date: run `xbuild workflow github`")


def test_the_checked_in_dependabot_config_is_what_xbuild_writes() -> None:
    result = runner.invoke(app, ["workflow", "dependabot", "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert DEPENDABOT.read_text(encoding="utf-8") == result.stdout
    assert yaml.safe_load(result.stdout) == {"version": 2, "updates": [{
        "package-ecosystem": "github-actions", "directory": "/",
        "schedule": {"interval": "weekly"}, "groups": {"actions": {"patterns": ["*"]}}}]}


def test_the_tests_workflow_runs_ci_run_least_privileged_with_a_timeout() -> None:
    doc = yaml.safe_load(TESTS_WORKFLOW.read_text(encoding="utf-8"))
    assert doc["permissions"] == {"contents": "read"}
    (job,) = doc["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04"
    assert job["permissions"] == {"contents": "read"}
    assert job["timeout-minutes"] == 60
    assert [s.get("uses") or s["run"] for s in steps(job)] == [
        CHECKOUT, "sudo CI=true bash .ci/run"]
    assert steps(job)[0]["with"] == {"persist-credentials": False}


def test_the_command_writes_the_file_and_says_so(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "folder" / "images.yml"
    result = runner.invoke(app, ["workflow", "github", "-f", str(small), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (f"wrote {out}: 2 build jobs (build-amd64 on self-hosted,linux,X64, "
            "build-arm64v8-arm32v7 on self-hosted,linux,ARM64) and a merge job") in result.stderr
    assert out.read_text(encoding="utf-8") == generate(small).stdout


def test_the_default_output_is_where_github_reads_workflows(
        small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["workflow", "github", "-f", str(small)]).exit_code == 0
    assert runner.invoke(app, ["workflow", "dependabot"]).exit_code == 0
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / ".github").rglob("*.yml")) == [
        ".github/dependabot.yml", ".github/workflows/images.yml"]


def test_the_output_is_the_same_for_the_same_matrix_and_options(small: Path) -> None:
    one = generate(small, "--runner", "arm64v8=self-hosted,jetson", "--runner",
                   "amd64=self-hosted,big").stdout
    two = generate(small, "--runner", "amd64=self-hosted,big", "--runner",
                   "arm64v8=self-hosted,jetson").stdout
    assert one == two
    assert one.startswith("# Generated from matrix.yml by this command; do not edit, run it "
                          "again:\n#   xbuild workflow github --runner amd64=self-hosted,big "
                          "--runner arm64v8=self-hosted,jetson\n")


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment(small: Path) -> None:
    uses = re.findall(r"uses: (\S+)(.*)", generate(small).stdout)
    assert sorted(set(uses)) == [
        (CHECKOUT, " # v7.0.1"), (DOWNLOAD, " # v8.0.1"), (UPLOAD, " # v7.0.0"),
        (LOGIN, " # v4.1.0"), (COSIGN_INSTALLER, " # v4.1.2")]


# --- structure ---------------------------------------------------------------------------


def test_a_build_job_per_runner_and_a_merge_job(small: Path) -> None:
    assert list(workflow(small)["jobs"]) == [*BUILD_JOBS, "merge"]


def test_an_arch_only_one_image_has_still_gets_built(write_matrix: WriteMatrix) -> None:
    path = write_matrix(small_doc(architectures=["amd64"], images={
        "a": {"context": "a"}, "b": {"context": "b", "architectures": ["amd64", "arm64v8"]}}))
    assert list(workflow(path)["jobs"]) == ["build-amd64", "build-arm64v8", "merge"]


def test_triggers_pushes_to_main_weekly_and_by_hand_with_a_rebuild_input(small: Path) -> None:
    doc = workflow(small)
    assert doc["on"] == {
        "push": {"branches": ["main"]}, "schedule": [{"cron": "23 4 * * 1"}],
        "workflow_dispatch": {"inputs": {"rebuild": {
            "description": "Images to rebuild even if up to date, separated by spaces (with "
                           "their children); all: every image. Empty: only what changed.",
            "type": "string", "required": False, "default": ""}}}}
    assert doc["concurrency"] == {"group": "${{ github.workflow }}-${{ github.ref }}",
                                  "cancel-in-progress": False}  # one release per ref at once
    assert doc["env"] == {"NAMESPACE": "team"}
    assert "strategy" not in str(doc)  # separate jobs: one failing cancels no other


def test_schedule_options(small: Path) -> None:
    doc = workflow(small, "--schedule", "0 3 * * *")
    assert doc["on"]["schedule"] == [{"cron": "0 3 * * *"}]
    assert "#   xbuild workflow github --schedule '0 3 * * *'\n" in generate(
        small, "--schedule", "0 3 * * *").stdout
    assert list(workflow(small, "--no-schedule")["on"]) == ["push", "workflow_dispatch"]


def test_permissions_read_only_at_the_top_and_in_every_job_but_keyless_signing(
        small: Path) -> None:
    doc = workflow(small)
    assert doc["permissions"] == {"contents": "read"}
    assert {name: job["permissions"] for name, job in doc["jobs"].items()} == {
        "build-amd64": {"contents": "read"}, "build-arm64v8-arm32v7": {"contents": "read"},
        "merge": {"contents": "read", "id-token": "write"}}
    assert {name: job["timeout-minutes"] for name, job in doc["jobs"].items()} == {
        "build-amd64": 360, "build-arm64v8-arm32v7": 360, "merge": 60}


def test_default_runners_self_hosted_arm32v7_on_the_arm64_job(small: Path) -> None:
    doc = workflow(small)
    assert runs_on(doc) == {"build-amd64": X64, "build-arm64v8-arm32v7": ARM64, "merge": X64}
    assert doc["jobs"]["build-arm64v8-arm32v7"]["name"] == "build arm64v8, arm32v7"


def test_hosted_runners(small: Path) -> None:
    doc = workflow(small, "--hosted")
    assert runs_on(doc) == {"build-amd64": ["ubuntu-24.04"],
                            "build-arm64v8-arm32v7": ["ubuntu-24.04-arm"],
                            "merge": ["ubuntu-24.04"]}


def test_runner_labels_given_per_arch(small: Path) -> None:
    doc = workflow(small, "--runner", "linux/arm64=self-hosted,linux,jetson",
                   "--runner", "amd64=big-box")
    assert runs_on(doc) == {"build-amd64": ["big-box"],
                            "build-arm64v8-arm32v7": ["self-hosted", "linux", "jetson"],
                            "merge": ["big-box"]}


def test_arm32v7_given_its_own_runner_gets_its_own_job(small: Path) -> None:
    doc = workflow(small, "--runner", "arm32v7=self-hosted,linux,ARM64,pi4")
    assert runs_on(doc) == {"build-amd64": X64, "build-arm64v8": ARM64,
                            "build-arm32v7": ["self-hosted", "linux", "ARM64", "pi4"],
                            "merge": X64}


def test_arm32v7_on_the_amd64_runner_under_qemu_shares_its_job(small: Path) -> None:
    result = generate(small, "--hosted", "--runner", "arm32v7=ubuntu-24.04")
    assert runs_on(yaml.safe_load(result.stdout)) == {
        "build-amd64-arm32v7": ["ubuntu-24.04"], "build-arm64v8": ["ubuntu-24.04-arm"],
        "merge": ["ubuntu-24.04"]}
    assert "#   build-amd64-arm32v7 on [ubuntu-24.04]:\n#     amd64: native\n" \
           "#     arm32v7: under QEMU\n" in result.stdout


def test_the_header_says_how_each_arch_builds(small: Path, write_matrix: WriteMatrix) -> None:
    assert "#     arm32v7: native where the CPU runs it (AArch32), else QEMU: the probe says " \
           "which\n" in generate(small).stdout
    path = write_matrix(small_doc(builders={"arm32v7": "pi-farm"}))
    assert "#   build-amd64 on [self-hosted, linux, X64]:\n#     amd64: native\n" \
           "#   build-arm64v8-arm32v7 on [self-hosted, linux, ARM64]:\n" \
           "#     arm64v8: native\n" \
           "#     arm32v7: on docker context or builder pi-farm (matrix.yml builders)\n" \
        in generate(path).stdout


def test_a_build_job_sets_up_logs_in_builds_its_arches_and_uploads(small: Path) -> None:
    job = workflow(small)["jobs"]["build-arm64v8-arm32v7"]
    assert "needs" not in job and "if" not in job  # no bases declared: nothing to wait for
    assert [s.get("uses") or s["run"] for s in steps(job)] == [
        CHECKOUT, HOST_SETUP, INSTALL, LOGIN,
        REBUILD + '.venv/bin/xbuild all --push --verify --locked --arch arm64v8 --arch arm32v7 '
        '--log-dir "$RUNNER_TEMP/xbuild-runs" --namespace "$NAMESPACE" "${rebuild[@]}"\n',
        UPLOAD, UPLOAD]
    assert steps(job)[5]["name"] == "Upload the build record and its evidence"
    assert steps(job)[1]["name"] == "Set up the host (root: Docker, QEMU, mmdebstrap, skopeo)"
    assert steps(job)[0]["with"] == {"persist-credentials": False}
    assert steps(job)[3]["with"] == LOGIN_SECRETS  # Docker Hub: no registry input
    assert steps(job)[4]["env"] == {"REBUILD_IMAGES": "${{ inputs.rebuild }}"}
    record, logs = steps(job)[5:]
    assert record["if"] == logs["if"] == "always()"  # a failed build still leaves both
    # Both paths begin at xbuild-runs/ (upload-artifact's root): each run folder's record
    # and its evidence/ keep their places, so evidence/ lies beside each record downloaded.
    assert record["with"] == {"name": "build-record-arm64v8-arm32v7",
                              "path": "${{ runner.temp }}/xbuild-runs/*/build-record.json\n"
                                      "${{ runner.temp }}/xbuild-runs/*/evidence/\n",
                              "if-no-files-found": "error"}
    assert logs["with"] == {"name": "xbuild-logs-arm64v8-arm32v7",
                            "path": "${{ runner.temp }}/xbuild-runs/",
                            "if-no-files-found": "warn"}


def test_the_merge_job_needs_every_build_job_and_runs_when_one_failed(small: Path) -> None:
    merge = workflow(small)["jobs"]["merge"]
    assert merge["needs"] == list(BUILD_JOBS)
    assert merge["if"] == "${{ !cancelled() }}"
    assert [s.get("uses") or s["run"] for s in steps(merge)] == [
        CHECKOUT, HOST_SETUP, INSTALL, LOGIN, DOWNLOAD, COSIGN_INSTALLER, MERGE_SCRIPT]
    assert steps(merge)[4]["with"] == {"pattern": "build-record-*",
                                       "path": "${{ runner.temp }}/build-records"}


def test_a_matrix_with_bases_bootstraps_them_first_on_schedule_and_by_hand(
        write_matrix: WriteMatrix) -> None:
    doc = workflow(write_matrix(small_doc(bases=BASES)))
    assert list(doc["jobs"]) == ["bases", *BUILD_JOBS, "merge"]
    bases = doc["jobs"]["bases"]
    assert bases["if"] == ("${{ github.event_name == 'schedule' || (github.event_name == "
                           "'workflow_dispatch' && inputs.bases) }}")
    assert bases["runs-on"] == X64
    assert [s.get("uses") or s["run"] for s in steps(bases)] == [
        CHECKOUT, HOST_SETUP, INSTALL, LOGIN,
        '.venv/bin/xbuild bases --log-dir "$RUNNER_TEMP/xbuild-runs" --namespace "$NAMESPACE"\n',
        UPLOAD]
    for job_id in BUILD_JOBS:  # they wait for it, and run when it was skipped (a push)
        assert doc["jobs"][job_id]["needs"] == ["bases"]
        assert doc["jobs"][job_id]["if"] == "${{ !cancelled() && needs.bases.result != " \
                                            "'failure' }}"
    assert doc["on"]["workflow_dispatch"]["inputs"]["bases"] == {
        "description": "Bootstrap the Debian bases again first, as the scheduled run does",
        "type": "boolean", "required": False, "default": True}


def test_namespace_option_with_a_registry_host(small: Path) -> None:
    result = generate(small, "--namespace", "ghcr.io/org/team")
    doc = yaml.safe_load(result.stdout)
    assert doc["env"] == {"NAMESPACE": "ghcr.io/org/team"}
    for job in doc["jobs"].values():
        assert steps(job)[3]["with"] == {"registry": "ghcr.io", **LOGIN_SECRETS}
    assert "\n#   xbuild workflow github --namespace ghcr.io/org/team\n" in result.stdout
    assert "# Images go to ghcr.io/org/team/<image>:latest." in result.stdout


def test_branches_option(small: Path) -> None:
    doc = workflow(small, "--branch", "main", "--branch", "release/*")
    assert doc["on"]["push"] == {"branches": ["main", "release/*"]}


def test_a_matrix_below_the_checkout_root_is_named_from_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    doc = workflow(write_matrix_file(tmp_path / "sub", small_doc()))
    assert steps(doc["jobs"]["build-amd64"])[4]["run"].endswith(
        '.venv/bin/xbuild all -f sub/matrix.yml --push --verify --locked --arch amd64 '
        '--log-dir "$RUNNER_TEMP/xbuild-runs" --namespace "$NAMESPACE" "${rebuild[@]}"\n')
    assert '.venv/bin/xbuild manifest -f sub/matrix.yml --sign-keyless --namespace "$NAMESPACE" ' \
           '"${from[@]}"' in steps(doc["jobs"]["merge"])[6]["run"]


# --- signing -----------------------------------------------------------------------------


def test_keyless_signing_installs_cosign_in_the_merge_job_and_signs_there(small: Path) -> None:
    doc = workflow(small)
    merge = steps(doc["jobs"]["merge"])
    assert merge[5] == {"name": "Install cosign v2.6.4", "uses": COSIGN_INSTALLER,
                        "with": {"cosign-release": "v2.6.4"}}
    assert merge[6]["name"] == "Publish and sign the lists of what the records name"
    assert "env" not in merge[6]  # keyless: no secret, the OIDC token is cosign's to fetch
    for job_id in BUILD_JOBS:  # no other job signs or installs cosign
        assert "cosign" not in str(doc["jobs"][job_id]) and "--sign" not in str(
            doc["jobs"][job_id])
    assert "# Signing: the merge job, the only one that moves tags, signs what it publishes " \
           "and\n# attests each image's SBOM and provenance with cosign v2.6.4, keyless: " \
           "with GitHub's OIDC\n# token for a Sigstore certificate (that job alone has " \
           "id-token: write).\n" in generate(small).stdout


def test_key_signing_writes_the_key_from_a_secret_and_signs_with_it(small: Path) -> None:
    result = generate(small, "--signing", "key")
    merge = yaml.safe_load(result.stdout)["jobs"]["merge"]
    assert merge["permissions"] == {"contents": "read"}  # no OIDC token without keyless
    assert [s.get("uses") or s["run"] for s in steps(merge)] == [
        CHECKOUT, HOST_SETUP, INSTALL, LOGIN, DOWNLOAD, COSIGN_INSTALLER, WRITE_KEY,
        MERGE_SCRIPT.replace("--sign-keyless", '--sign-key "$RUNNER_TEMP/cosign.key"'),
        'rm -f "$RUNNER_TEMP/cosign.key"\n']
    write, publish, remove = steps(merge)[6:]
    assert write["env"] == {"COSIGN_PRIVATE_KEY": "${{ secrets.COSIGN_PRIVATE_KEY }}"}
    assert publish["env"] == {"COSIGN_PASSWORD": "${{ secrets.COSIGN_PASSWORD }}"}
    assert (remove["name"], remove["if"]) == ("Remove the signing key", "always()")
    assert "\n#   xbuild workflow github --signing key\n" in result.stdout
    assert "with the key in the secret\n# COSIGN_PRIVATE_KEY, its password in COSIGN_PASSWORD;" \
        in result.stdout


def test_key_signing_puts_no_secret_on_a_command_line(small: Path) -> None:
    """The secrets reach the job through `env:` only. The key is expanded by two bash
    builtins, `[[` and `printf` (no process, so on no command line), into a file only the
    runner's user reads; the password is never expanded: cosign reads it from its
    environment."""
    doc = workflow(small, "--signing", "key")
    scripts = [s["run"] for job in doc["jobs"].values() for s in steps(job) if "run" in s]
    assert not any("secrets." in script for script in scripts)
    expanding = [line for script in scripts for line in script.splitlines()
                 if re.search(r"\$\{?COSIGN_", line)]
    assert expanding == ["if [[ -z $COSIGN_PRIVATE_KEY ]]; then",
                         'printf \'%s\\n\' "$COSIGN_PRIVATE_KEY" >"$RUNNER_TEMP/cosign.key"']
    lines = WRITE_KEY.splitlines()
    assert lines.index("umask 077") < lines.index(expanding[1])


def test_no_signing_installs_no_cosign_and_asks_for_nothing(small: Path) -> None:
    result = generate(small, "--signing", "none")
    merge = yaml.safe_load(result.stdout)["jobs"]["merge"]
    assert merge["permissions"] == {"contents": "read"}
    assert [s.get("uses") or s["run"] for s in steps(merge)] == [
        CHECKOUT, HOST_SETUP, INSTALL, LOGIN, DOWNLOAD,
        MERGE_SCRIPT.replace("--sign-keyless ", "")]
    assert steps(merge)[5]["name"] == "Publish the lists of what the records name"
    assert "cosign" not in yaml.safe_dump(yaml.safe_load(result.stdout)).lower()
    assert "\n# Signing: none (--signing none): nothing is signed or attested.\n" in result.stdout


SIGNING_VARIANTS = {"keyless": (), "hosted": ("--hosted",), "key": ("--signing", "key"),
                    "none": ("--signing", "none")}


@pytest.mark.parametrize("args", SIGNING_VARIANTS.values(), ids=SIGNING_VARIANTS.keys())
def test_id_token_write_only_on_the_merge_job_and_only_keyless(
        write_matrix: WriteMatrix, args: tuple[str, ...]) -> None:
    doc = workflow(write_matrix(small_doc(bases=BASES)), *args)  # with the bases job too
    places = {"workflow": doc, **{f"jobs.{j}": job for j, job in doc["jobs"].items()}}
    writing = sorted(where for where, node in places.items()
                     if node.get("permissions", {}).get("id-token") == "write")
    assert writing == (["jobs.merge"] if "--signing" not in args else [])
    assert not [where for where, node in places.items()
                if set(node["permissions"]) - {"contents", "id-token"}]


# --- bad options: one line, exit 2, nothing written --------------------------------------

BAD_OPTIONS = {
    "unknown-arch": (("--runner", "sparc=self-hosted"), "unknown architecture 'sparc'"),
    "no-equals": (("--runner", "arm64v8"), "expected ARCH=LABEL[,LABEL...]"),
    "no-labels": (("--runner", "arm64v8="), "expected ARCH=LABEL[,LABEL...]"),
    "no-arch": (("--runner", "=self-hosted"), "expected ARCH=LABEL[,LABEL...]"),
    "empty-label": (("--runner", "arm64v8=self-hosted,,x"), "'' is not a runner label"),
    "label-with-space": (("--runner", "arm64v8=self hosted"), "'self hosted' is not a runner"),
    "label-expression": (("--runner", "arm64v8=${{ secrets.X }}"), "is not a runner label"),
    "arch-not-in-matrix": (("--runner", "i386=self-hosted"),
                           "the matrix builds nothing for i386"),
    "arch-twice": (("--runner", "arm64v8=a", "--runner", "linux/arm64=b"),
                   "arm64v8 is given twice"),
    "32-bit-arm-runner": (("--runner", "arm32v7=self-hosted,linux,ARM"),
                          "--runner 'arm32v7=self-hosted,linux,ARM': a 32-bit ARM runner "
                          "cannot run the job: GitHub's runner dropped Linux ARM32 after "
                          "2026-09-16 and Node 24"),
    "32-bit-arm-runner-any-case": (("--runner", "arm64v8=self-hosted,arm"),
                                   "a 32-bit ARM runner cannot run the job"),
    "arm32v7-runner-cpu-unsaid": (("--runner", "arm32v7=self-hosted,pi"),
                                  "name the runner's CPU with ARM64 or X64"),
    "two-cpus": (("--runner", "amd64=self-hosted,X64,ARM64"),
                 "its labels name two CPUs (amd64, arm64v8)"),
    "bad-namespace": (("--namespace", "Team"), "--namespace 'Team'"),
    "bad-branch": (("--branch", "main branch"), "--branch 'main branch'"),
    "branch-dot-dot": (("--branch", "a..b"), "--branch 'a..b'"),
    "cron-four-fields": (("--schedule", "0 3 * *"), "--schedule '0 3 * *': expected five"),
    "cron-newline": (("--schedule", "0 3 * * *\nx"), "expected five cron fields"),
    "cron-expression": (("--schedule", "${{ x }} 3 * * *"), "expected five cron fields"),
    "schedule-and-none": (("--schedule", "0 3 * * *", "--no-schedule"),
                          "--schedule and --no-schedule contradict each other"),
    "signing-unknown": (("--signing", "gpg"),
                        "--signing 'gpg': expected one of keyless, key, none"),
}


@pytest.mark.parametrize(("args", "fragment"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_a_bad_option_exits_2_with_one_line_and_writes_nothing(
        small: Path, tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    out = tmp_path / "out.yml"
    result = runner.invoke(app, ["workflow", "github", "-f", str(small), "-o", str(out), *args])
    assert_one_line_error(result, 2, fragment)
    assert not out.exists()


def test_an_arch_without_a_default_runner_needs_one(write_matrix: WriteMatrix) -> None:
    path = write_matrix(small_doc(architectures=["amd64", "i386"], images={"a": {"context": "a"}}))
    assert_one_line_error(generate(path), 2, "i386 has no default runner",
                          "--runner i386=LABEL")
    doc = workflow(path, "--runner", "i386=self-hosted,linux,x86")
    assert doc["jobs"]["build-i386"]["runs-on"] == ["self-hosted", "linux", "x86"]


def test_a_bad_matrix_exits_2(bad_matrix: tuple[Path, str, tuple[str, ...]]) -> None:
    path, key, fragments = bad_matrix
    assert_one_line_error(generate(path), 2, key, *fragments)
