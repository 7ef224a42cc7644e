"""`xbuild plan` through typer's CliRunner: errors, text and JSON output, selections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from xbuild import __version__
from xbuild.cli import app
from xbuild.core.platforms import ARCH_NAMES

REPO = Path(__file__).resolve().parents[2]
REAL_MATRIX = str(REPO / "matrix.yml")
ARCHES = ("amd64", "arm32v7", "arm64v8")
# Plain, wide output whatever the environment running the tests says.
runner = CliRunner(env={"COLUMNS": "250", "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
                        "GITHUB_ACTIONS": None})


def xbuild(*args: str) -> Result:
    return runner.invoke(app, list(args))


def plan_json(*args: str) -> dict[str, Any]:
    result = xbuild("plan", "-f", REAL_MATRIX, "--json", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def targets_of(data: dict[str, Any], image: str) -> list[dict[str, Any]]:
    return [t for t in data["targets"] if t["image"] == image]


def assert_one_line_error(result: Result, code: int, *fragments: str) -> str:
    """The CLI failed with `code`, one `xbuild: error:` line on stderr, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.exception, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    line = result.stderr.rstrip("\n")
    assert "\n" not in line, result.stderr
    assert line.startswith("xbuild: error: "), line
    for fragment in fragments:
        assert fragment in line
    return line


# --- bad matrices ------------------------------------------------------------------------


def test_bad_matrix_exits_2_with_one_line(bad_matrix: tuple[Path, str, tuple[str, ...]]) -> None:
    path, key, fragments = bad_matrix
    line = assert_one_line_error(xbuild("plan", "-f", str(path)), 2, str(path), key, *fragments)
    if key and not key.startswith(":"):
        assert f"{path}: {key}: " in line


def test_missing_matrix_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.yml")
    assert_one_line_error(xbuild("plan", "-f", path), 2, path, "no such file")


def test_matrix_defaults_to_matrix_yml_in_the_current_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(xbuild("plan"), 2, "matrix.yml", "no such file")


# --- the real matrix: text ---------------------------------------------------------------


def plan_rows(text: str) -> list[dict[str, str]]:
    """The plan's rows as plain output prints them off a terminal: one line per target,
    `<level>  tag: <ref>; platform: <platform>[; parent: <source>]`."""
    rows = []
    for line in text.splitlines():
        level, _, rest = line.partition("  ")
        if level.isdigit() and rest.startswith("tag: "):
            rows.append({"level": level} | dict(p.split(": ", 1) for p in rest.split("; ")))
    return rows


@pytest.mark.parametrize("arch", ARCHES)
def test_text_plan_lists_orthanc_before_orthanc_plugins(arch: str) -> None:
    result = xbuild("plan", "-f", REAL_MATRIX)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # human output goes to stderr
    rows = plan_rows(result.stderr)
    tags = [row["tag"] for row in rows]
    parent, child = (f"derekmerck/{name}:latest-{arch}" for name in ("orthanc", "orthanc-plugins"))
    assert tags.index(parent) < tags.index(child)
    assert rows[tags.index(child)]["parent"] == "orthanc (this run)"
    assert rows[tags.index(parent)]["level"] == "0"
    assert "parent" not in rows[tags.index(parent)]


def test_text_plan_notes_deferred_lists() -> None:
    result = xbuild("plan", "-f", REAL_MATRIX, "--arch", "arm64v8")
    assert result.exit_code == 0, result.stderr
    note = next(line for line in result.stderr.splitlines() if "no manifest list for" in line)
    assert all(image in note for image in ("orthanc", "orthanc-plugins", "dcm4chee", "diana",
                                           "imagetrove"))


# --- the real matrix: JSON ---------------------------------------------------------------


def test_json_plan_counts() -> None:
    data = plan_json()
    assert len(data["manifests"]) == 5
    assert len(data["targets"]) == 15
    assert data["lists_deferred"] == []
    assert (data["namespace"], data["tag"]) == ("derekmerck", "latest")


@pytest.mark.parametrize(("image", "count"), [
    ("orthanc", 3), ("orthanc-plugins", 3), ("dcm4chee", 3), ("imagetrove", 3), ("diana", 3)])
def test_json_plan_targets_per_image(image: str, count: int) -> None:
    data = plan_json()
    assert len(targets_of(data, image)) == count
    manifest = next(m for m in data["manifests"] if m["image"] == image)
    assert manifest["ref"] == f"derekmerck/{image}:latest"
    assert sorted(e["ref"] for e in manifest["entries"]) == sorted(
        t["tag"] for t in targets_of(data, image))


def test_json_targets_have_tag_platform_parent() -> None:
    for target in plan_json()["targets"]:
        assert {"tag", "platform", "parent", "parent_name", "parent_published", "arch",
                "level", "build_args"} <= target.keys()
        assert target["tag"] == f"derekmerck/{target['image']}:latest-{target['arch']}"


def test_json_orthanc_plugins_is_from_orthanc() -> None:
    for target in targets_of(plan_json(), "orthanc-plugins"):
        assert target["parent"] == "orthanc"
        assert target["parent_name"] == "derekmerck/orthanc:latest"
        assert target["parent_published"] is None
        assert target["level"] == 1


@pytest.mark.parametrize("arch", ARCHES)
def test_json_orthanc_is_planned_before_orthanc_plugins(arch: str) -> None:
    keys = [(t["image"], t["arch"]) for t in plan_json()["targets"]]
    assert keys.index(("orthanc", arch)) < keys.index(("orthanc-plugins", arch))


def test_json_dcm4chee_build_args_per_arch() -> None:
    args = {t["arch"]: t["build_args"] for t in targets_of(plan_json(), "dcm4chee")}
    assert args["amd64"]["NATIVE_JPEG2000"] == "true"
    assert args["arm64v8"]["NATIVE_JPEG2000"] == "false"
    assert set(args["amd64"]) == set(args["arm64v8"]) == {"NATIVE_JPEG2000"}


def test_namespace_and_tag_overrides() -> None:
    data = plan_json("--namespace", "127.0.0.1:5000/x", "--tag", "t1")
    tags = {t["tag"] for t in data["targets"]}
    assert "127.0.0.1:5000/x/orthanc:t1-arm64v8" in tags
    assert all(tag.startswith("127.0.0.1:5000/x/") for tag in tags)
    for target in targets_of(data, "orthanc-plugins"):
        assert target["parent_name"] == "derekmerck/orthanc:latest"  # what the Dockerfile says
    assert {m["ref"] for m in data["manifests"]} >= {"127.0.0.1:5000/x/orthanc:t1"}


def test_selecting_a_child_brings_its_parent() -> None:
    data = plan_json("orthanc-plugins")
    assert data["images"] == ["orthanc", "orthanc-plugins"]
    assert len(data["targets"]) == 6
    assert [m["image"] for m in data["manifests"]] == ["orthanc", "orthanc-plugins"]


@pytest.mark.parametrize(("options", "prefix"), [
    pytest.param((), "derekmerck/orthanc:latest", id="matrix-namespace"),
    pytest.param(("--namespace", "127.0.0.1:5000/x", "--tag", "t1"), "127.0.0.1:5000/x/orthanc:t1",
                 id="override"),
])
def test_published_parents(options: tuple[str, ...], prefix: str) -> None:
    data = plan_json("--published-parents", "orthanc-plugins", *options)
    assert data["images"] == ["orthanc-plugins"]
    assert len(data["targets"]) == 3
    for target in data["targets"]:
        assert target["parent"] is None
        assert target["parent_published"] == f"{prefix}-{target['arch']}"
        assert target["parent_name"] == "derekmerck/orthanc:latest"
        assert target["level"] == 0
    assert [m["image"] for m in data["manifests"]] == ["orthanc-plugins"]


def test_one_arch_defers_every_manifest_list() -> None:
    data = plan_json("--arch", "arm64v8")
    assert {t["arch"] for t in data["targets"]} == {"arm64v8"}
    assert len(data["targets"]) == 5
    assert data["manifests"] == []
    assert data["lists_deferred"] == data["images"]
    assert sorted(data["lists_deferred"]) == sorted(
        ["orthanc", "orthanc-plugins", "dcm4chee", "imagetrove", "diana"])


def test_arches_covering_an_image_give_its_list() -> None:
    data = plan_json("--arch", "amd64", "-a", "arm64v8", "-a", "linux/arm/v7")
    assert len(data["manifests"]) == 5
    assert data["lists_deferred"] == []


@pytest.mark.parametrize(("spelling", "arch"), [
    pytest.param("arm32v7", "arm32v7", id="name"),
    pytest.param("linux/arm/v7", "arm32v7", id="platform-arm-v7"),
    pytest.param("linux/arm64", "arm64v8", id="platform-arm64"),
    pytest.param("linux/arm64/v8", "arm64v8", id="platform-arm64-v8"),
    pytest.param("linux/amd64", "amd64", id="platform-amd64"),
])
def test_arch_spellings(spelling: str, arch: str) -> None:
    data = plan_json("--arch", spelling)
    assert data["targets"]
    assert {t["arch"] for t in data["targets"]} == {arch}


def test_unknown_arch_exits_2_naming_known_arches() -> None:
    assert_one_line_error(xbuild("plan", "-f", REAL_MATRIX, "--arch", "foo"), 2, "'foo'",
                          *ARCH_NAMES)


def test_unknown_image_exits_2_with_suggestion() -> None:
    assert_one_line_error(xbuild("plan", "-f", REAL_MATRIX, "orthanc-plugin"), 2,
                          "'orthanc-plugin'", "(did you mean 'orthanc-plugins'?)", "diana")


def test_selection_matching_nothing_exits_3() -> None:
    assert_one_line_error(xbuild("plan", "-f", REAL_MATRIX, "dcm4chee", "--arch", "i386"), 3,
                          "i386")


@pytest.mark.parametrize("option", [
    pytest.param("--namespace=UPPER", id="namespace-uppercase"),
    pytest.param("--namespace=Derek Merck", id="namespace-space"),
    pytest.param("--tag=-bad", id="tag-leading-dash"),
    pytest.param("--tag=" + "a" * 129, id="tag-129"),
    pytest.param("--tag=" + "a" * 125, id="tag-too-long-with-arch"),
])
def test_bad_override_exits_2(option: str) -> None:
    assert_one_line_error(xbuild("plan", "-f", REAL_MATRIX, option), 2,
                          option.split("=", maxsplit=1)[0])


# --- version and help --------------------------------------------------------------------


def test_version() -> None:
    result = xbuild("--version")
    assert result.exit_code == 0
    assert result.stdout == f"xbuild {__version__}\n"
    assert __version__ == "0.1.0"


@pytest.mark.parametrize("args", [
    pytest.param(("--help",), id="app"),
    pytest.param(("-h",), id="app-short"),
    pytest.param(("plan", "--help"), id="plan"),
])
def test_help(args: tuple[str, ...]) -> None:
    result = xbuild(*args)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    assert "Traceback" not in result.output


def test_plan_help_lists_its_options() -> None:
    text = xbuild("plan", "--help").stdout
    for option in ("--arch", "--matrix", "--namespace", "--tag", "--json",
                   "--published-parents"):
        assert option in text


def test_no_arguments_shows_help_and_exits_2() -> None:
    result = xbuild()
    assert result.exit_code == 2  # a command line without a command: a usage error
    assert "Usage" in result.output
    assert all(command in result.output for command in ("plan", "build", "verify", "workflow"))


@pytest.mark.allow_subprocess
def test_python_m_xbuild_version() -> None:
    done = subprocess.run([sys.executable, "-m", "xbuild", "--version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"xbuild {__version__}"


def test_unit_tier_refuses_processes() -> None:
    with pytest.raises(AssertionError, match="unit tests must not run processes"):
        subprocess.run(["true"], check=False)
    with pytest.raises(AssertionError, match="unit tests must not run processes"):
        subprocess.Popen(["true"])
