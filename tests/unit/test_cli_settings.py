"""What `build`, `all` and `manifest` hand their pipeline step, read off the step itself (the
pipeline is replaced by a recorder): the settings each command line gives, the defaults, and
the signing flags (--sign-key, --sign-keyless)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.unit.test_cli_help import MATRIX
from tests.unit.test_cli_plan import assert_one_line_error, runner
from xbuild.cli import app
from xbuild.cli.common import State
from xbuild.core.plan import Plan
from xbuild.core.settings import BuildSettings, SigningSettings

FIXTURE_IMAGES = ["base", "child", "grandchild", "duo", "flaky", "flaky-kid"]


class Report:
    exit_code = 0

    def as_dict(self) -> dict[str, Any]:
        return {}


class Step:
    """Stands for a pipeline step: records what it was called with."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        self.calls.append((args, kwargs))
        return self.answer


@pytest.fixture
def build_step(monkeypatch: pytest.MonkeyPatch) -> Step:
    step = Step(Report())
    monkeypatch.setattr("xbuild.pipeline.build.build", step)
    return step


@pytest.fixture
def manifest_step(monkeypatch: pytest.MonkeyPatch) -> Step:
    step = Step([])
    monkeypatch.setattr("xbuild.pipeline.manifest.manifest", step)
    return step


def xbuild(*args: str) -> Result:
    return runner.invoke(app, list(args), env={"XBUILD_MIRROR": None})


def handed(step: Step, *args: str) -> tuple[Plan, BuildSettings]:
    """The plan and the settings a build command line hands the build step."""
    result = xbuild(*args, "-f", MATRIX)
    assert result.exit_code == 0, result.output
    (_, plan, settings, _), _ = step.calls[-1]
    assert isinstance(plan, Plan)
    assert isinstance(settings, BuildSettings)
    return plan, settings


def settings_of(step: Step, *args: str) -> BuildSettings:
    return handed(step, *args)[1]


@pytest.mark.parametrize("command", ["build", "all"])
def test_defaults(build_step: Step, command: str) -> None:
    settings = settings_of(build_step, command)
    assert settings.jobs == (os.cpu_count() or 2) + 2
    assert (settings.push, settings.dry_run, settings.allow_partial, settings.verify,
            settings.locked) == (False, False, False, False, False)
    assert settings.log_dir == Path(".xbuild/runs")
    assert settings.mirror is None
    assert settings.rebuild == frozenset()
    assert settings.signing == SigningSettings()
    assert not settings.signing.on


@pytest.mark.parametrize("command", ["build", "all"])
def test_each_option_reaches_the_settings(build_step: Step, command: str,
                                          tmp_path: Path) -> None:
    settings = settings_of(build_step, command, "--push", "-j", "3", "--dry-run",
                           "--allow-partial", "--verify", "--locked", "--log-dir",
                           str(tmp_path), "--mirror", "https://mirror.example/m",
                           "--rebuild", "child", "--builder", "arm64v8=pi")
    assert (settings.push, settings.jobs, settings.dry_run, settings.allow_partial,
            settings.verify, settings.locked) == (True, 3, True, True, True, True)
    assert settings.log_dir == tmp_path
    assert settings.mirror == "https://mirror.example/m"
    assert settings.rebuild == frozenset({"child"})
    assert settings.builders is not None


@pytest.mark.parametrize("command", ["build", "all"])
@pytest.mark.parametrize(("flags", "signing"), [
    pytest.param(("--sign-key", "cosign.key"), SigningSettings(key=Path("cosign.key")),
                 id="key"),
    pytest.param(("--sign-keyless",), SigningSettings(keyless=True), id="keyless"),
])
def test_signing_implies_verify(build_step: Step, command: str, flags: tuple[str, ...],
                                signing: SigningSettings) -> None:
    settings = settings_of(build_step, command, *flags)
    assert settings.signing == signing
    assert settings.verify is True


def test_all_builds_every_image_with_its_parents(build_step: Step) -> None:
    plan, _ = handed(build_step, "all", "--arch", "amd64")
    assert sorted(t.image for t in plan.targets) == sorted(FIXTURE_IMAGES)


def test_build_selects_images_and_published_parents(build_step: Step) -> None:
    plan, _ = handed(build_step, "build", "child", "--published-parents", "--arch", "amd64")
    assert [t.image for t in plan.targets] == ["child"]


@pytest.mark.parametrize("extra", [["base"], ["--published-parents"], ["--parents"]],
                         ids=["image", "published-parents", "parents"])
def test_all_takes_no_image_and_no_parents_option(build_step: Step, extra: list[str]) -> None:
    result = xbuild("all", "-f", MATRIX, *extra)
    assert result.exit_code == 2
    assert build_step.calls == []


def test_verbose_after_build(build_step: Step) -> None:
    settings_of(build_step, "build", "-v")
    assert State.console.verbose is True


@pytest.mark.parametrize("command", [["build"], ["all"], ["manifest"]])
def test_key_and_keyless_together_exit_2_with_one_line(
        build_step: Step, manifest_step: Step, command: list[str]) -> None:
    result = xbuild(*command, "-f", MATRIX, "--sign-key", "cosign.key", "--sign-keyless")
    assert_one_line_error(result, 2, "--sign-key", "--sign-keyless")
    assert build_step.calls == manifest_step.calls == []


@pytest.mark.parametrize(("flags", "signing"), [
    pytest.param((), SigningSettings(), id="unsigned"),
    pytest.param(("--sign-key", "cosign.key"), SigningSettings(key=Path("cosign.key")),
                 id="key"),
    pytest.param(("--sign-keyless",), SigningSettings(keyless=True), id="keyless"),
])
def test_manifest_hands_its_signing_to_the_merge_step(
        manifest_step: Step, flags: tuple[str, ...], signing: SigningSettings,
        tmp_path: Path) -> None:
    record = tmp_path / "build-record.json"
    result = xbuild("manifest", "-f", MATRIX, "base", "--tag", "t1", "--from", str(record),
                    "--allow-partial", "--dry-run", *flags)
    assert result.exit_code == 0, result.output
    (_, kwargs), = manifest_step.calls
    assert kwargs["signing"] == signing
    assert (kwargs["images"], kwargs["namespace"], kwargs["tag"], kwargs["records"],
            kwargs["allow_partial"], kwargs["dry_run"]) == (
        ["base"], None, "t1", [record], True, True)
