"""The recipes whose sources this machine cannot reach, built from test artifacts.

The repository's own matrix.yml and images/ are copied, narrowed to amd64 (native, so it
fits the default run) and built by `xbuild build --push --verify` into the local registry,
the downloads coming from a loopback mirror of stand-ins (tests/support/artifacts.py) through
XBUILD_MIRROR. This proves each recipe's mechanics: download, checksum lock, install,
configuration from the environment, and an entrypoint that starts its processes (the smoke
commands of matrix.yml, run by verify). It proves nothing about the real upstream files.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.artifacts import STAMP, serve, write_mirror_tree
from tests.support.run import docker, xbuild
from xbuild.core.downloads import LOCK_NAME, read_lock
from xbuild.core.matrix import load_matrix
from xbuild.host.registry import LocalRegistry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
ARCH = "amd64"
RECIPES = ("dcm4chee", "diana", "imagetrove")


@dataclass(frozen=True)
class Recipes:
    matrix: Path
    namespace: str
    mirror: str
    urls: dict[str, tuple[str, ...]]  # image -> the URLs the mirror serves stand-ins for


def narrowed(doc: dict[str, Any], arch: str) -> dict[str, Any]:
    """The matrix for one arch, checksum pins dropped: stand-ins never match real files."""
    doc["architectures"] = [arch]
    for spec in doc["images"].values():
        spec["architectures"] = [arch]
        if "arch_args" in spec:
            spec["arch_args"] = {arch: spec["arch_args"][arch]}
        for name, entry in (spec.get("downloads") or {}).items():
            if isinstance(entry, dict):
                entry.pop("sha256", None)
                if isinstance(entry["url"], dict):
                    entry["url"] = {arch: entry["url"][arch]}
                spec["downloads"][name] = entry
    return doc


@pytest.fixture(scope="module")
def recipes(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Recipes]:
    root = tmp_path_factory.mktemp("recipes")
    shutil.copytree(ROOT / "images", root / "images")
    for lock in (root / "images").glob(f"*/{LOCK_NAME}"):
        lock.unlink()  # the real files' checksums; the stand-ins are locked afresh
    doc = narrowed(yaml.safe_load((ROOT / "matrix.yml").read_text()), ARCH)
    (root / "matrix.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    namespace = f"{registry.address}/recipes"
    bases = xbuild("bases", "-f", root / "matrix.yml", "--arch", ARCH, "--namespace", namespace)
    assert bases.exit_code == 0, bases.stderr
    urls = write_mirror_tree(load_matrix(root / "matrix.yml"), RECIPES, root / "mirror")
    with serve(root / "mirror") as mirror:
        yield Recipes(matrix=root / "matrix.yml", namespace=namespace, mirror=mirror,
                      urls=urls)


def build_and_verify(recipes: Recipes, image: str, tmp_path: Path) -> dict[str, object]:
    built = xbuild("build", image, "-f", recipes.matrix, "--namespace", recipes.namespace,
                   "--push", "--verify", "--json", "--log-dir", tmp_path,
                   env={"XBUILD_MIRROR": recipes.mirror})
    assert built.exit_code == 0, built.stderr
    return built.json()


def test_dcm4chee_installs_from_its_downloads_and_its_entrypoint_starts_jboss(
        recipes: Recipes, tmp_path: Path) -> None:
    report = build_and_verify(recipes, "dcm4chee", tmp_path)
    assert report["verified"] is True
    lock = read_lock(recipes.matrix.parent / "images" / "dcm4chee" / LOCK_NAME)
    assert set(lock) == set(recipes.urls["dcm4chee"])  # each unpinned URL's first checksum

    ref = f"{recipes.namespace}/dcm4chee:latest"
    java = docker("run", "--rm", "--network", "none", ref, "java", "-version")
    assert STAMP in java.stderr  # the JRE from the downloads is the one on PATH
    native = docker("run", "--rm", "--network", "none", ref, "cat",
                    "/opt/dcm4chee/bin/native/libclib_jiio.so", "/opt/dcm4chee/bin/codec-java-opts")
    assert "x86-64" in native.stdout  # amd64 takes the native codec library


def test_dcm4chee_renders_the_datasource_from_the_environment(recipes: Recipes) -> None:
    ref = f"{recipes.namespace}/dcm4chee:latest"
    script = ("docker-entrypoint.sh >/tmp/log 2>&1 & sleep 3; "
              "cat $DCM4CHEE_HOME/server/default/deploy/pacs-mysql-ds.xml; cat /tmp/log")
    run = docker("run", "--rm", "--network", "none", "-e", "MYSQL_HOST=db.example",
                 "-e", "MYSQL_PORT=3307", "-e", "MYSQL_DATABASE=pacs&co",
                 "-e", "MYSQL_PASSWORD=s3cr<t|x", "-e", "MYSQL_CONNECT_RETRY=1",
                 "--entrypoint", "bash", ref, "-c", script)
    assert "<connection-url>jdbc:mysql://db.example:3307/pacs&amp;co</connection-url>" in run.stdout
    assert "<password>s3cr&lt;t|x</password>" in run.stdout
    assert "waiting for MySQL at db.example:3307 (next try in 1s)" in run.stdout


@pytest.mark.parametrize(("variable", "value"), [
    ("MYSQL_PORT", "33o6"), ("MYSQL_CONNECT_RETRY", "0"), ("MYSQL_CONNECT_RETRY", "soon")])
def test_dcm4chee_refuses_a_malformed_variable_in_one_line(recipes: Recipes, variable: str,
                                                          value: str) -> None:
    ref = f"{recipes.namespace}/dcm4chee:latest"
    run = docker("run", "--rm", "--network", "none", "-e", f"{variable}={value}", ref)
    assert run.returncode == 2
    assert run.stderr.strip() == f"dcm4chee: {variable}={value}: must be a positive whole number"


def test_dcm4chee_cron_jobs_write_to_the_container_log(recipes: Recipes, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text("# every minute\n* * * * * echo cron-ran-$((6*7))\n")
    ref = f"{recipes.namespace}/dcm4chee:latest"
    started = docker("run", "-d", "--network", "none", "-v", f"{crontab}:/crontab_file:ro", ref)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        logs = ""
        for _ in range(75):  # cron runs a minute's jobs at the minute's start
            logs = docker("logs", container).stdout
            if "cron-ran-42" in logs:
                break
            time.sleep(1)
        assert "cron-ran-42" in logs
        assert "cron: 1 job(s) from /crontab_file" in docker("logs", container).stderr
    finally:
        docker("rm", "-f", container)


def test_diana_installs_from_its_downloads_on_debians_python(recipes: Recipes,
                                                             tmp_path: Path) -> None:
    report = build_and_verify(recipes, "diana", tmp_path)
    assert report["verified"] is True
    ref = f"{recipes.namespace}/diana:latest"
    run = docker("run", "--rm", "--network", "none", ref, "python3", "-c",
                 "import diana, pydicom, numpy; print(diana.__doc__, pydicom.__file__, "
                 "numpy.__file__)")
    assert run.returncode == 0, run.stderr
    assert STAMP in run.stdout
    assert "/usr/lib/python3/dist-packages/pydicom" in run.stdout  # Debian's, not PyPI's
    assert "/usr/lib/python3/dist-packages/numpy" in run.stdout
    user = docker("run", "--rm", "--network", "none", ref, "id", "-u")
    assert user.stdout.strip() == "999"


def test_imagetrove_runs_postgres_orthanc_and_mytardis_under_supervisord(
        recipes: Recipes, tmp_path: Path) -> None:
    report = build_and_verify(recipes, "imagetrove", tmp_path)
    assert report["verified"] is True  # its smoke: all three serve, no database given


def test_imagetrove_keeps_generated_secrets_with_its_data(recipes: Recipes,
                                                          tmp_path: Path) -> None:
    ref = f"{recipes.namespace}/imagetrove:latest"
    data = tmp_path / "data"
    script = ("docker-entrypoint.sh >/tmp/log 2>&1 & "
              "for i in $(seq 240); do curl -fsS http://127.0.0.1:8000/api/v1/ && exit 0; "
              "sleep 1; done; cat /tmp/log; exit 1")
    runs = [docker("run", "--rm", "--network", "none", "-v", f"{data}:/data",
                   "-e", "MYTARDIS_ADMIN_USER=admin", "-e", "MYTARDIS_ADMIN_PASSWORD=pw",
                   "--entrypoint", "bash", ref, "-c", script) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert '"users": 1' in run.stdout  # the admin, created once, found again
    key = (data / "imagetrove" / "MYTARDIS_SECRET_KEY").read_text()
    assert len(key) >= 40
    assert (data / "postgresql" / "PG_VERSION").read_text().strip() == "15"


def test_imagetrove_refuses_a_malformed_variable_in_one_line(recipes: Recipes) -> None:
    ref = f"{recipes.namespace}/imagetrove:latest"
    run = docker("run", "--rm", "--network", "none", "-e", "ORTHANC_AET=WAY-TOO-LONG-FOR-DICOM",
                 ref)
    assert run.returncode == 2
    assert run.stderr.strip() == ("imagetrove: ORTHANC_AET=WAY-TOO-LONG-FOR-DICOM: must be 1 "
                                  "to 16 letters, digits, _ or -")
