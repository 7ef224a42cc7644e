"""Test artifacts: small stand-ins for the downloads this machine cannot reach.

They are shaped like the real files (same archive layout, same entry points), so a recipe's
mechanics are proven against them: fetched through a mirror, unpacked, installed, configured
and started by its entrypoint. They prove nothing about the real upstream software, and the
README says which images were built only from them.
"""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xbuild.core.downloads import mirror_path
from xbuild.core.matrix import Matrix

STAMP = "xbuild test artifact"

_DATASOURCE = """<?xml version="1.0" encoding="UTF-8"?>
<datasources>
  <local-tx-datasource>
    <jndi-name>pacsDS</jndi-name>
    <connection-url>jdbc:mysql://localhost:3306/pacsdb</connection-url>
    <driver-class>com.mysql.jdbc.Driver</driver-class>
    <user-name>pacs</user-name>
    <password>pacs</password>
  </local-tx-datasource>
</datasources>
"""

# dcm4chee's script merges JBoss into its own tree; this one does the same, minimally.
_INSTALL_JBOSS = f"""#!/bin/sh
# {STAMP}: stands in for dcm4chee's bin/install_jboss.sh
set -eu
home=$(cd "$(dirname "$0")/.." && pwd)
cp "$1/bin/run.sh" "$home/bin/run.sh"
chmod 0755 "$home/bin/run.sh"
"""

_RUN_SH = f"""#!/bin/sh
# {STAMP}: stands in for JBoss 4.2.3's bin/run.sh
exec "$JAVA_HOME/bin/java" $JAVA_OPTS -classpath run.jar org.jboss.Main "$@"
"""

# Not `exec sleep`: the process must keep the java command line, as the real JVM's has.
_JAVA = f"""#!/bin/sh
# {STAMP}: stands in for Temurin 8's java
if [ "${{1:-}}" = -version ]; then
    echo 'openjdk version "1.8.0_492" ({STAMP})' >&2
    exit 0
fi
echo "{STAMP}: java $*"
while :; do sleep 1; done
"""


def _zip(files: dict[str, tuple[str | bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _tar_gz(files: dict[str, tuple[str | bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, (content, mode) in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 1577836800
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def dcm4chee_zip() -> bytes:
    top = "dcm4chee-2.18.3-mysql"
    return _zip({
        f"{top}/bin/install_jboss.sh": (_INSTALL_JBOSS, 0o755),
        f"{top}/bin/native/libclib_jiio.so": (f"{STAMP}: the i586 build dcm4chee ships", 0o644),
        f"{top}/server/default/deploy/pacs-mysql-ds.xml": (_DATASOURCE, 0o644),
        f"{top}/server/default/conf/jboss-service.xml": (f"<!-- {STAMP} -->", 0o644),
        f"{top}/server/default/archive/README": (STAMP, 0o644),
    })


def jboss_zip() -> bytes:
    return _zip({"jboss-4.2.3.GA/bin/run.sh": (_RUN_SH, 0o755)})


def jre_tar_gz() -> bytes:
    return _tar_gz({"jdk8u492-b09-jre/bin/java": (_JAVA, 0o755)})


def _setup_py(name: str, packages: list[str], requires: list[str],
              scripts: str = "") -> str:
    return (f"# {STAMP}\nfrom setuptools import setup\n"
            f"setup(name={name!r}, version='0.0.0+test', packages={packages!r},\n"
            f"      install_requires={requires!r},\n"
            f"      entry_points={{'console_scripts': [{scripts!r}]}} if {scripts!r} else {{}})\n")


def diana_tar_gz() -> bytes:
    top = "diana2-master/package"
    requires = ["attrs", "requests", "pydicom", "pyyaml", "redis", "docker", "beautifulsoup4",
                "pillow", "python-dateutil", "click", "numpy"]
    return _tar_gz({
        f"{top}/setup.py": (_setup_py("python-diana", ["diana", "diana.cli"], requires,
                                      "diana-cli=diana.cli.cli:main"), 0o644),
        f"{top}/diana/__init__.py": (f'"""{STAMP}"""\n__version__ = "0.0.0+test"\n', 0o644),
        f"{top}/diana/cli/__init__.py": ("", 0o644),
        f"{top}/diana/cli/cli.py": (f'"""{STAMP}"""\nimport click\n\n\n@click.group()\n'
                                    "def main() -> None:\n    pass\n", 0o644),
    })


def pycrud_tar_gz() -> bytes:
    top = "pycrud-master/package"
    return _tar_gz({
        f"{top}/setup.py": (_setup_py("python-crud", ["crud"], ["attrs"]), 0o644),
        f"{top}/crud/__init__.py": (f'"""{STAMP}"""\n', 0o644),
    })


_MANAGE_PY = f'''"""{STAMP}: stands in for MyTARDIS's manage.py"""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tardis.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

_WSGI_PY = f'''"""{STAMP}: stands in for MyTARDIS's wsgi.py"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tardis.settings")
application = get_wsgi_application()
'''

# Just enough of MyTARDIS's default_settings for a Django project with a database cache.
_DEFAULT_SETTINGS = f'''"""{STAMP}: stands in for MyTARDIS's tardis.default_settings"""
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.sessions", "django.contrib.staticfiles"]
ROOT_URLCONF = "tardis.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
CACHES = {{"default": {{"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                      "LOCATION": "default_cache"}}}}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}}}
'''

_URLS_PY = f'''"""{STAMP}: stands in for MyTARDIS's API root"""
from django.contrib.auth.models import User
from django.http import JsonResponse
from django.urls import path


def api_root(request):
    return JsonResponse({{"stamp": "{STAMP}", "users": User.objects.count()}})


urlpatterns = [path("api/v1/", api_root)]
'''


def mytardis_tar_gz() -> bytes:
    top = "mytardis-4.6.0"
    return _tar_gz({
        f"{top}/manage.py": (_MANAGE_PY, 0o644),
        f"{top}/wsgi.py": (_WSGI_PY, 0o644),
        f"{top}/tardis/__init__.py": ("", 0o644),
        f"{top}/tardis/default_settings/__init__.py": (_DEFAULT_SETTINGS, 0o644),
        f"{top}/tardis/urls.py": (_URLS_PY, 0o644),
    })


def python_sdist(file_name: str) -> bytes:
    """An installable source tree named after the file, e.g. pyoai-2.5.0.tar.gz."""
    stem = file_name.removesuffix(".tar.gz")
    module = "xbuild_stand_in_" + stem.replace("-", "_").replace(".", "_").lower()
    return _tar_gz({
        f"{stem}/setup.py": (_setup_py(stem, [module], []), 0o644),
        f"{stem}/{module}/__init__.py": (f'"""{STAMP}"""\n', 0o644),
    })


def python_wheel(file_name: str) -> bytes:
    """A minimal valid wheel for a name such as graphene_django-2.15.0-py2.py3-none-any.whl."""
    dist, version = file_name.split("-")[:2]
    info = f"{dist}-{version}.dist-info"
    module = f"xbuild_stand_in_{dist.lower()}"
    return _zip({
        f"{module}/__init__.py": (f'"""{STAMP}"""\n', 0o644),
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
                             0o644),
        f"{info}/WHEEL": ("Wheel-Version: 1.0\nGenerator: xbuild-tests\n"
                          "Root-Is-Purelib: true\nTag: py3-none-any\n", 0o644),
        f"{info}/RECORD": (f"{module}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n"
                           f"{info}/RECORD,,\n", 0o644),
    })


def native_codecs() -> bytes:
    return f"{STAMP}: stands in for libclib_jiio.so (x86-64)\n".encode()


# Download file name (as matrix.yml names it) -> its stand-in.
ARTIFACTS: dict[str, Callable[[], bytes]] = {
    "dcm4chee.zip": dcm4chee_zip,
    "jboss.zip": jboss_zip,
    "jre.tar.gz": jre_tar_gz,
    "libclib_jiio.so": native_codecs,
    "diana.tar.gz": diana_tar_gz,
    "pycrud.tar.gz": pycrud_tar_gz,
    "mytardis.tar.gz": mytardis_tar_gz,
}


def artifact_for(file_name: str) -> bytes:
    if file_name in ARTIFACTS:
        return ARTIFACTS[file_name]()
    if file_name.endswith(".whl"):
        return python_wheel(file_name)
    if file_name.endswith(".tar.gz"):
        return python_sdist(file_name)
    raise KeyError(f"no test artifact stands in for {file_name}")


def write_mirror_tree(matrix: Matrix, images: tuple[str, ...],
                      root: Path) -> dict[str, tuple[str, ...]]:
    """Lay out a stand-in for every URL the images download, as XBUILD_MIRROR expects.

    Returns each image's URLs.
    """
    urls: dict[str, tuple[str, ...]] = {}
    for image in images:
        downloads = matrix.image(image).downloads
        for download in downloads.files if downloads else ():
            for _, source in download.sources:
                target = root / mirror_path(source.url)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(artifact_for(download.name))
                urls[image] = (*urls.get(image, ()), source.url)
    return urls


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
