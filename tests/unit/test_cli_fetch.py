"""`xbuild fetch` and `--mirror` through typer's CliRunner, against a loopback server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.unit.conftest import WriteMatrix
from tests.unit.test_cli_plan import assert_one_line_error, runner
from tests.unit.test_fetch import ZIP, Site, site  # noqa: F401  (the loopback server fixture)
from xbuild.cli import app
from xbuild.core.downloads import LOCK_NAME, mirror_path, read_lock

ORIGINAL = "https://sourceforge.net/projects/jboss/files/jboss-4.2.3.GA-jdk6.zip"


def matrix_with(write_matrix: WriteMatrix, downloads: object) -> Path:
    return write_matrix({"namespace": "t", "tag": "v1", "architectures": ["amd64"],
                         "images": {"dcm4chee": {"context": "images/dcm4chee",
                                                 "downloads": downloads}}})


def test_fetch_through_a_mirror_records_the_lock_and_writes_a_mirror_tree(
        write_matrix: WriteMatrix, site: Site, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = matrix_with(write_matrix, {"jboss.zip": ORIGINAL})
    site.serve("/m/" + str(mirror_path(ORIGINAL)), ZIP)
    result = runner.invoke(app, ["fetch", "-f", str(path), "--into", str(tmp_path / "tree"),
                                 "--json"], env={"XBUILD_MIRROR": site.url("/m")})
    assert result.exit_code == 0, result.stderr
    cached = json.loads(result.stdout)["files"][ORIGINAL]
    assert Path(cached).read_bytes() == ZIP
    lock = path.parent / "images" / "dcm4chee" / LOCK_NAME
    assert read_lock(lock) == {ORIGINAL: hashlib.sha256(ZIP).hexdigest()}
    assert (tmp_path / "tree" / mirror_path(ORIGINAL)).read_bytes() == ZIP


def test_fetch_of_an_unreachable_url_exits_6_naming_it(
        write_matrix: WriteMatrix, site: Site, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = matrix_with(write_matrix, {"jboss.zip": site.url("/missing.zip")})
    result = runner.invoke(app, ["fetch", "-f", str(path)], env={"XBUILD_MIRROR": None})
    assert result.exit_code == 6
    assert f"✗ {site.url('/missing.zip')}: HTTP 404" in result.stderr


def test_a_matrix_without_downloads_has_nothing_to_fetch(write_matrix: WriteMatrix) -> None:
    path = write_matrix({"namespace": "t", "tag": "v1",
                         "images": {"orthanc": {"context": "images/orthanc"}}})
    assert_one_line_error(runner.invoke(app, ["fetch", "-f", str(path)]), 3, "no downloads")


@pytest.mark.parametrize("command", [["fetch"], ["build", "--dry-run"]])
def test_a_mirror_that_is_not_a_url_is_refused_before_anything_runs(
        write_matrix: WriteMatrix, command: list[str]) -> None:
    path = matrix_with(write_matrix, {"jboss.zip": ORIGINAL})
    result = runner.invoke(app, [*command, "-f", str(path)],
                           env={"XBUILD_MIRROR": "ftp://mirror.example"})
    assert_one_line_error(result, 2, "--mirror/XBUILD_MIRROR", "'ftp://mirror.example'")


def test_locked_and_update_lock_contradict(write_matrix: WriteMatrix) -> None:
    path = matrix_with(write_matrix, {"jboss.zip": ORIGINAL})
    result = runner.invoke(app, ["fetch", "-f", str(path), "--locked", "--update-lock"])
    assert_one_line_error(result, 2, "--locked refuses a changed lock and --update-lock "
                                     "changes it: pass one")
