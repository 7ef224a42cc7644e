"""The recipes whose sources CI cannot reach, built from test artifacts.

The repository's own matrix.yml and images/ are copied, narrowed to one arch and built by
`xbuild build --push --verify` into the local registry, the downloads coming from a loopback
mirror of stand-ins (tests/support/artifacts.py) through XBUILD_MIRROR. This proves each
recipe's mechanics: download, checksum lock, install (`pip check`, collectstatic),
configuration from the environment, and an entrypoint that starts its processes (the smoke
commands of matrix.yml, run by verify). It proves nothing about the real upstream files.

amd64 builds natively. dcm4chee is also built for arm32v7 under QEMU, where it takes the
pure-Java codecs; imagetrove for arm64v8 is an e2e test (tests/e2e/test_recipes_arm64.py: its
Debian stack takes about 15 minutes to install under emulation).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.artifacts import STAMP
from tests.support.recipes import (
    LOCK,
    Recipes,
    Registry,
    build_and_verify,
    built_ref,
    in_image,
    recipes_for,
)
from tests.support.run import docker

pytestmark = pytest.mark.integration

RECIPES = ("dcm4chee", "diana", "imagetrove")
NO_NATIVE_CODECS = "-Dcom.sun.media.imageio.disableCodecLib=true"


def read_lock(path: Path) -> dict[str, str]:
    """url -> sha256, as the lock lists them."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, url = line.split()
            entries[url] = digest
    return entries


@pytest.fixture(scope="module")
def recipes(registry: Registry, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Recipes]:
    with recipes_for(registry, tmp_path_factory.mktemp("recipes"), "amd64", RECIPES) as found:
        yield found


# --- dcm4chee ------------------------------------------------------------------------------


def test_dcm4chee_installs_from_its_downloads_and_its_entrypoint_starts_jboss(
        recipes: Recipes, tmp_path: Path) -> None:
    build_and_verify(recipes, "dcm4chee", tmp_path)
    lock = read_lock(recipes.matrix.parent / "images" / "dcm4chee" / LOCK)
    assert set(lock) == set(recipes.urls["dcm4chee"])  # each unpinned URL's first checksum

    java = docker("run", "--rm", "--network", "none", built_ref(recipes, "dcm4chee"), "java",
                  "-version")
    assert STAMP in java.stderr  # the JRE from the downloads is the one on PATH
    opts = in_image(recipes, "dcm4chee", "cat", "/opt/dcm4chee/bin/native/libclib_jiio.so",
                    "/opt/dcm4chee/bin/codec-java-opts")
    assert "x86-64" in opts  # amd64 takes the native codec library
    assert NO_NATIVE_CODECS not in opts


def test_dcm4chee_renders_the_datasource_from_the_environment(recipes: Recipes) -> None:
    script = ("docker-entrypoint.sh >/tmp/log 2>&1 & sleep 3; "
              "cat $DCM4CHEE_HOME/server/default/deploy/pacs-mysql-ds.xml; cat /tmp/log")
    run = docker("run", "--rm", "--network", "none", "-e", "MYSQL_HOST=db.example",
                 "-e", "MYSQL_PORT=3307", "-e", "MYSQL_DATABASE=pacs&co",
                 "-e", "MYSQL_PASSWORD=s3cr<t|x", "-e", "MYSQL_CONNECT_RETRY=1",
                 "--entrypoint", "bash", built_ref(recipes, "dcm4chee"), "-c", script)
    assert "<connection-url>jdbc:mysql://db.example:3307/pacs&amp;co</connection-url>" in run.stdout
    assert "<password>s3cr&lt;t|x</password>" in run.stdout
    assert "waiting for MySQL at db.example:3307 (next try in 1s)" in run.stdout


@pytest.mark.parametrize(("variable", "value"), [
    ("MYSQL_PORT", "33o6"), ("MYSQL_CONNECT_RETRY", "0"), ("MYSQL_CONNECT_RETRY", "soon")])
def test_dcm4chee_refuses_a_malformed_variable_in_one_line(recipes: Recipes, variable: str,
                                                          value: str) -> None:
    run = docker("run", "--rm", "--network", "none", "-e", f"{variable}={value}",
                 built_ref(recipes, "dcm4chee"))
    assert run.returncode == 2
    assert run.stderr.strip() == f"dcm4chee: {variable}={value}: must be a positive whole number"


def test_dcm4chee_cron_jobs_write_to_the_container_log(recipes: Recipes, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text("# every minute\n* * * * * echo cron-ran-$((6*7))\n")
    started = docker("run", "-d", "--network", "none", "-v", f"{crontab}:/crontab_file:ro",
                     built_ref(recipes, "dcm4chee"))
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


@pytest.fixture(scope="module")
def arm32_recipes(registry: Registry, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Recipes]:
    with recipes_for(registry, tmp_path_factory.mktemp("recipes-arm32v7"), "arm32v7",
                     ("dcm4chee",)) as found:
        yield found


def test_dcm4chee_on_arm32v7_runs_without_the_native_codecs(arm32_recipes: Recipes,
                                                           tmp_path: Path) -> None:
    build_and_verify(arm32_recipes, "dcm4chee", tmp_path)  # smoke: JBoss launched under QEMU
    # No libclib_jiio URL for ARM: nothing fetched for it, nothing locked.
    lock = read_lock(arm32_recipes.matrix.parent / "images" / "dcm4chee" / LOCK)
    assert set(lock) == set(arm32_recipes.urls["dcm4chee"])
    assert not any("libclib_jiio" in url for url in lock)

    machine, debian_arch = in_image(arm32_recipes, "dcm4chee", "sh", "-c",
                                    "uname -m; dpkg --print-architecture").split()
    assert machine in ("armv7l", "armv8l")
    assert debian_arch == "armhf"
    opts = in_image(arm32_recipes, "dcm4chee", "cat", "/opt/dcm4chee/bin/codec-java-opts")
    assert opts.strip() == NO_NATIVE_CODECS  # JAI must not look for a codec library
    native = in_image(arm32_recipes, "dcm4chee", "ls", "-A", "/opt/dcm4chee/bin/native/")
    assert "libclib_jiio" not in native  # dcm4chee's own i586 build is removed

    script = "docker-entrypoint.sh >/tmp/log 2>&1 & sleep 5; cat /tmp/log"
    started = in_image(arm32_recipes, "dcm4chee", "bash", "-c", script)
    assert "JAVA_OPTS=-Xms128m -Xmx512m" in started
    assert NO_NATIVE_CODECS in started  # handed to the JVM JBoss runs


# --- diana ---------------------------------------------------------------------------------


def test_diana_installs_from_its_downloads_on_debians_python(recipes: Recipes,
                                                             tmp_path: Path) -> None:
    build_and_verify(recipes, "diana", tmp_path)
    found = in_image(recipes, "diana", "python3", "-c",
                     "import diana, crud, pydicom, numpy, bs4; print(diana.__doc__); "
                     "print(crud.__version__, pydicom.__file__, numpy.__file__, bs4.__file__)")
    assert STAMP in found
    assert "1.0.2 " in found  # the crud diana2 bundles
    for module in ("pydicom", "numpy", "bs4"):  # Debian's, not PyPI's
        assert f"/usr/lib/python3/dist-packages/{module}" in found
    assert in_image(recipes, "diana", "id", "-u").strip() == "999"


def test_diana_cli_reads_the_data_its_package_ships(recipes: Recipes) -> None:
    shown = in_image(recipes, "diana", "diana-cli", "guid", "DOE^JANE", "1980-01-01", "F")
    last, first = shown.split("'name': '")[1].split("'")[0].split("^")
    assert last in ("SMITH", "JOHNSON", "WILLIAMS")  # the stand-in's name lists
    assert first in ("MARY", "PATRICIA", "LINDA")


# --- imagetrove ----------------------------------------------------------------------------


def test_imagetrove_runs_postgres_orthanc_and_mytardis_under_supervisord(
        recipes: Recipes, tmp_path: Path) -> None:
    build_and_verify(recipes, "imagetrove", tmp_path)  # its smoke: all three serve
    static = in_image(recipes, "imagetrove", "sh", "-c",
                      "ls /opt/mytardis/static/admin/js/vendor/jquery/jquery.js "
                      "/opt/mytardis/static/tastypie_swagger/css/ /opt/mytardis/static/js/")
    assert "jquery.js" in static  # Django admin's, from Debian's libjs-jquery
    assert "screen." in static  # an app's assets, from a GitHub fork
    assert "main." in static  # MyTARDIS's own assets folder


def serve_imagetrove(recipes: Recipes, *options: str) -> subprocess.CompletedProcess[str]:
    """imagetrove's entrypoint started with `options` (docker run's), until its API answers
    (exit 0) or 240 s pass (exit 1, printing its log)."""
    script = ("docker-entrypoint.sh >/tmp/log 2>&1 & "
              "for i in $(seq 240); do curl -fsS http://127.0.0.1:8000/api/v1/ && exit 0; "
              "sleep 1; done; cat /tmp/log; exit 1")
    return docker("run", "--rm", "--network", "none", *options, "--entrypoint", "bash",
                  built_ref(recipes, "imagetrove"), "-c", script)


def test_imagetrove_keeps_generated_secrets_with_its_data(recipes: Recipes,
                                                          tmp_path: Path) -> None:
    data = tmp_path / "data"
    runs = [serve_imagetrove(recipes, "-v", f"{data}:/data", "-e", "MYTARDIS_ADMIN_USER=admin",
                             "-e", "MYTARDIS_ADMIN_PASSWORD=pw") for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert '"users": 1' in run.stdout  # the admin, created once, found again
    key = (data / "imagetrove" / "MYTARDIS_SECRET_KEY").read_text()
    assert len(key) >= 40
    assert (data / "postgresql" / "PG_VERSION").read_text().strip() == "15"


def test_imagetrove_logs_requests_where_mytardis_may_write(recipes: Recipes,
                                                          tmp_path: Path) -> None:
    logs = tmp_path / "log"
    run = serve_imagetrove(recipes, "-v", f"{logs}:/var/log")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "GET /api/v1/ 200" in (logs / "mytardis" / "request.log").read_text()


def test_imagetrove_refuses_a_malformed_variable_in_one_line(recipes: Recipes) -> None:
    run = docker("run", "--rm", "--network", "none", "-e", "ORTHANC_AET=WAY-TOO-LONG-FOR-DICOM",
                 built_ref(recipes, "imagetrove"))
    assert run.returncode == 2
    assert run.stderr.strip() == ("imagetrove: ORTHANC_AET=WAY-TOO-LONG-FOR-DICOM: must be 1 "
                                  "to 16 letters, digits, _ or -")
