"""Test artifacts: small stand-ins for the downloads the tests cannot reach.

They are shaped like the real files, so that a recipe which cannot install the real file
cannot install its stand-in either:

- the same archive layout (GitHub's `<repo>-<commit>/` top folder, dcm4chee's zips);
- the same declared requirements (`install_requires`, `Requires-Dist`), so that a
  dependency Debian does not provide fails the recipe's `pip check` as the real one would;
- the same kinds of files: entry points, package data read at run time, Django apps with
  static assets (collectstatic), Django's admin (whose JavaScript Debian symlinks into
  libjs-jquery), log files MyTARDIS writes next to itself unless told otherwise;
- the same packaging quirks: diana2's setup.py names only its top-level packages.

They prove nothing else about the upstream software, and the README says which images
were built only from them.
"""

from __future__ import annotations

import functools
import http.server
import io
import re
import tarfile
import threading
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STAMP = "xbuild test artifact"

Files = dict[str, tuple[str | bytes, int]]


def _zip(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _tar_gz(files: Files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, (content, mode) in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 1577836800
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _text(content: str) -> tuple[str, int]:
    return content, 0o644


# --- dcm4chee ----------------------------------------------------------------------------

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


def dcm4chee_zip() -> bytes:
    top = "dcm4chee-2.18.3-mysql"
    return _zip({
        f"{top}/bin/install_jboss.sh": (_INSTALL_JBOSS, 0o755),
        f"{top}/bin/native/libclib_jiio.so": _text(f"{STAMP}: the i586 build dcm4chee ships"),
        f"{top}/server/default/deploy/pacs-mysql-ds.xml": _text(_DATASOURCE),
        f"{top}/server/default/conf/jboss-service.xml": _text(f"<!-- {STAMP} -->"),
        f"{top}/server/default/archive/README": _text(STAMP),
    })


def jboss_zip() -> bytes:
    return _zip({"jboss-4.2.3.GA/bin/run.sh": (_RUN_SH, 0o755)})


def jre_tar_gz() -> bytes:
    return _tar_gz({"jdk8u492-b09-jre/bin/java": (_JAVA, 0o755)})


def native_codecs() -> bytes:
    return f"{STAMP}: stands in for libclib_jiio.so (x86-64)\n".encode()


# --- Python packages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What a Python distribution declares and ships, as far as an install can tell."""

    modules: tuple[str, ...] = ()      # top-level packages (a ".py" suffix: a single module)
    requires: tuple[str, ...] = ()     # install_requires / Requires-Dist, as upstream declares
    static: tuple[str, ...] = ()       # files under <module>/static/ (a Django app's assets)


# The PyPI files and GitHub forks the recipes install, by distribution name as their file
# names spell it: what each really declares and ships (read from the real files).
SHAPES: dict[str, Shape] = {
    # diana
    "bs4": Shape(requires=("beautifulsoup4",)),  # an alias: no module of its own
    # The backport pyxnat names; Python's own pathlib must still win at import time.
    "pathlib": Shape(modules=("pathlib.py",)),
    # imagetrove
    "django_registration_redux": Shape(modules=("registration",)),
    "django_user_agents": Shape(modules=("django_user_agents",),
                                requires=("django", "user-agents")),
    "pyoai": Shape(modules=("oaipmh",), requires=("lxml", "six")),
    "django-jstemplate": Shape(modules=("jstemplate",), requires=("Django >= 1.3", "six"),
                               static=("libs/django.mustache.js",)),
    "graphene_django": Shape(modules=("graphene_django",), requires=(
        "six (>=1.10.0)", "graphene (<3,>=2.1.7)", "graphql-core (<3,>=2.1.0)",
        "Django (>=1.11)", "singledispatch (>=3.4.0.3)", "promise (>=2.1)", "text-unidecode")),
    "graphene_django_plus": Shape(modules=("graphene_django_plus",)),
    "django_graphql_jwt": Shape(modules=("graphql_jwt",), requires=(
        "Django (>=2.0)", "PyJWT (>=2,<3)", "graphene (>=2.1.5)", "graphene-django (>=2.0.0)")),
    "django-graphiql": Shape(modules=("django_graphiql",), requires=("django>=1.6",),
                             static=("graphiql/graphiql.css", "graphiql/graphiql.min.js")),
    "django-tastypie": Shape(modules=("tastypie",), requires=(
        "python-mimeparse >= 0.1.4, != 1.5", "python-dateutil >= 1.5, != 2.0")),
    "django_widget_tweaks": Shape(modules=("widget_tweaks",)),
    "singledispatch": Shape(modules=("singledispatch",)),
    "django_webpack_loader": Shape(modules=("webpack_loader",)),
    "django-form-utils": Shape(modules=("form_utils",)),
    "django-tastypie-swagger": Shape(modules=("tastypie_swagger",), static=(
        "tastypie_swagger/css/screen.css", "tastypie_swagger/js/swagger-ui.js")),
    # diana's gistsig (GitHub): imports click and requests, declares nothing.
    "gistsig": Shape(modules=("gistsig",)),
}


def _module_files(root: str, shape: Shape) -> Files:
    files: Files = {}
    for module in shape.modules:
        if module.endswith(".py"):
            # A top-level module that must never shadow the standard library's.
            files[f"{root}{module}"] = _text(
                f'"""{STAMP}"""\nraise ImportError("{STAMP}: {module} shadows the stdlib")\n')
            continue
        files[f"{root}{module}/__init__.py"] = _text(f'"""{STAMP}"""\n')
        for asset in shape.static:
            files[f"{root}{module}/static/{asset}"] = _text(f"/* {STAMP} */\n")
    return files


def _setup_py(name: str, version: str, shape: Shape, *, packages: str | None = None,
              scripts: tuple[str, ...] = (), requirements_file: bool = False) -> str:
    pure = [m for m in shape.modules if not m.endswith(".py")]
    single = [m.removesuffix(".py") for m in shape.modules if m.endswith(".py")]
    requires = ("[line for line in open('requirements.txt').read().splitlines()]"
                if requirements_file else repr(list(shape.requires)))
    return (f"# {STAMP}\nfrom setuptools import setup\n"
            f"setup(name={name!r}, version={version!r},\n"
            f"      packages={packages or repr(pure)}, py_modules={single!r},\n"
            f"      include_package_data=True,\n"
            f"      package_data={{m: ['static/**/*'] for m in {pure!r}}},\n"
            f"      install_requires={requires},\n"
            f"      entry_points={{'console_scripts': {list(scripts)!r}}})\n")


def python_sdist(top: str, name: str, version: str, shape: Shape) -> bytes:
    """An installable source tree under `top/`, as an sdist or a GitHub archive holds one."""
    return _tar_gz({f"{top}/setup.py": _text(_setup_py(name, version, shape)),
                    **_module_files(f"{top}/", shape)})


def python_wheel(file_name: str, shape: Shape) -> bytes:
    """A valid wheel for e.g. graphene_django-2.15.0-py2.py3-none-any.whl, shaped as `shape`."""
    dist, version = file_name.split("-")[:2]
    info = f"{dist}-{version}.dist-info"
    files = _module_files("", shape)
    requires = "".join(f"Requires-Dist: {r}\n" for r in shape.requires)
    files[f"{info}/METADATA"] = _text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n{requires}")
    files[f"{info}/WHEEL"] = _text("Wheel-Version: 1.0\nGenerator: xbuild-tests\n"
                                   "Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    files[f"{info}/RECORD"] = _text(record)
    return _zip(files)


# --- diana ---------------------------------------------------------------------------------

# diana2's package/requirements.txt at the pinned commit, as python-diana 2.1.5 declares it.
DIANA_REQUIREMENTS = """\
# CRUD reqs
attrs >= 19.3.0
docker
python-dateutil
redis
pyyaml
jinja2
bs4
lxml
requests
click
gistsig@git+https://github.com/derekmerck/gistsig

# DIANA reqs
numpy
pydicom
pyyaml
pillow
python-dateutil
cryptography
watchdog
xmltodict
pyxnat
"""

# diana-cli's guid command, reading the name lists diana ships as package data.
_DIANA_CLI = f'''"""{STAMP}: stands in for diana.cli.cli"""
import hashlib
from pathlib import Path
from pprint import pformat

import click
import crud

CENSUS = Path(__file__).parent.parent / "utils" / "guid" / "us_census"


def _pick(listing, seed):
    names = [line.split()[0] for line in (CENSUS / listing).read_text().splitlines()]
    return names[int(hashlib.sha1(seed.encode()).hexdigest(), 16) % len(names)]


@click.group(name="diana-cli", epilog=crud.__name__)
def main():
    """{STAMP}"""


@main.command()
@click.argument("name")
@click.argument("dob", required=False, type=click.DateTime())
@click.argument("gender", required=False, default="U")
def guid(name, dob, gender):
    first = "dist.female.first.txt" if gender == "F" else "dist.male.first.txt"
    click.echo(pformat({{"name": f"{{_pick('dist.all.last.txt', name)}}^{{_pick(first, name)}}",
                        "id": hashlib.sha1(name.encode()).hexdigest().upper()[:32]}}))
'''


def diana_tar_gz(top: str) -> bytes:
    """diana2's layout: package/ holds python-diana with crud and wuphf bundled."""
    package = f"{top}/package"
    # Like diana2's, this setup.py names the top-level packages only (not diana.cli).
    setup = _setup_py("python-diana", "2.1.5", Shape(), packages="['crud', 'diana', 'wuphf']",
                      scripts=("diana-cli=diana.cli.cli:main",), requirements_file=True)
    files: Files = {
        f"{package}/setup.py": _text(setup),
        f"{package}/requirements.txt": _text(DIANA_REQUIREMENTS),
        f"{package}/MANIFEST.in": _text("include diana/utils/guid/us_census/*.txt\n"),
        f"{package}/README.md": _text(STAMP),
        f"{package}/diana/__init__.py": _text(f'"""{STAMP}"""\n__version__ = "2.1.5"\n'),
        f"{package}/diana/cli/__init__.py": _text(""),
        f"{package}/diana/cli/cli.py": _text(_DIANA_CLI),
        f"{package}/diana/utils/__init__.py": _text(""),
        f"{package}/diana/utils/guid/__init__.py": _text(""),
        f"{package}/crud/__init__.py": _text(f'"""{STAMP}"""\n__version__ = "1.0.2"\n'),
        f"{package}/crud/abc/__init__.py": _text(""),
        f"{package}/wuphf/__init__.py": _text(f'"""{STAMP}"""\n'),
        f"{top}/README.md": _text(STAMP),
    }
    for listing, names in (("dist.all.last.txt", "SMITH JOHNSON WILLIAMS"),
                           ("dist.female.first.txt", "MARY PATRICIA LINDA"),
                           ("dist.male.first.txt", "JAMES JOHN ROBERT")):
        rows = "".join(f"{n:<15}0.100 0.100 {i}\n" for i, n in enumerate(names.split(), 1))
        files[f"{package}/diana/utils/guid/us_census/{listing}"] = _text(rows)
    return _tar_gz(files)


# --- imagetrove (MyTARDIS) -----------------------------------------------------------------

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

# MyTARDIS's default_settings in miniature: the apps whose static files collectstatic must
# gather (Django's admin among them), the manifest storage, and log files whose default
# names are relative, i.e. next to manage.py.
_DEFAULT_SETTINGS = f'''"""{STAMP}: stands in for MyTARDIS's tardis.default_settings"""
from os import path

INSTALLED_APPS = ["django_extensions", "django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.messages", "django.contrib.sessions",
                  "django.contrib.staticfiles", "django.contrib.admin",
                  "registration", "jstemplate", "tastypie", "tastypie_swagger",
                  "webpack_loader", "widget_tweaks", "tardis.tardis_portal"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "tardis.tardis_portal.logging_middleware.LoggingMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {{"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}}}]
ROOT_URLCONF = "tardis.urls"
STATIC_URL = "/static/"
STATIC_ROOT = path.abspath(path.join(path.dirname(__file__), "../..", "static"))
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
STATICFILES_DIRS = (path.abspath(path.join(path.dirname(__file__), "../..", "assets")),)
SYSTEM_LOG_FILENAME = "request.log"
MODULE_LOG_FILENAME = "tardis.log"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
CACHES = {{"default": {{"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                      "LOCATION": "default_cache"}}}}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}}}
'''

# As MyTARDIS's: configures file logging when the first request handler is built.
_LOGGING_MIDDLEWARE = f'''"""{STAMP}: stands in for tardis.tardis_portal.logging_middleware"""
import logging
from logging.config import dictConfig

from django.conf import settings


class LoggingMiddleware:
    def __init__(self, get_response):
        dictConfig({{"version": 1, "disable_existing_loggers": False, "handlers": {{
            "systemlog": {{"class": "logging.FileHandler",
                          "filename": settings.SYSTEM_LOG_FILENAME}},
            "modulelog": {{"class": "logging.FileHandler",
                          "filename": settings.MODULE_LOG_FILENAME}}}},
            "loggers": {{__name__: {{"handlers": ["systemlog"], "level": "INFO"}},
                        "tardis": {{"handlers": ["modulelog"], "level": "INFO"}}}}}})
        self.logger = logging.getLogger(__name__)
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        self.logger.info("%s %s %s", request.method, request.path, response.status_code)
        return response
'''

_URLS_PY = f'''"""{STAMP}: stands in for MyTARDIS's API root"""
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import JsonResponse
from django.urls import path


def api_root(request):
    return JsonResponse({{"stamp": "{STAMP}", "users": User.objects.count()}})


urlpatterns = [path("api/v1/", api_root), path("admin/", admin.site.urls)]
'''


def mytardis_tar_gz(top: str) -> bytes:
    portal = f"{top}/tardis/tardis_portal"
    return _tar_gz({
        f"{top}/manage.py": _text(_MANAGE_PY),
        f"{top}/wsgi.py": _text(_WSGI_PY),
        f"{top}/assets/js/main.js": _text(f"/* {STAMP}: the webpack entry point */\n"),
        f"{top}/tardis/__init__.py": _text(""),
        f"{top}/tardis/default_settings/__init__.py": _text(_DEFAULT_SETTINGS),
        f"{top}/tardis/urls.py": _text(_URLS_PY),
        f"{portal}/__init__.py": _text(""),
        f"{portal}/logging_middleware.py": _text(_LOGGING_MIDDLEWARE),
        # An asset that names another: the manifest storage must resolve it.
        f"{portal}/static/css/portal.css": _text("body { background: url(../images/x.png); }\n"),
        f"{portal}/static/images/x.png": (b"\x89PNG\r\n\x1a\n" + STAMP.encode(), 0o644),
    })


# --- which stand-in for which download ---------------------------------------------------

_GITHUB_ARCHIVE = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/archive/(?P<ref>.+)\.tar\.gz$")


def github_top_folder(url: str) -> str | None:
    """The folder a GitHub archive of a commit unpacks to: `<repo>-<commit>`."""
    parts = urllib.parse.urlsplit(url)
    match = _GITHUB_ARCHIVE.match(parts.path) if parts.netloc == "github.com" else None
    return f"{match['repo']}-{match['ref']}" if match else None


def _dist_of(file_name: str) -> tuple[str, str]:
    """(distribution, version) from a wheel or sdist file name."""
    if file_name.endswith(".whl"):
        dist, version = file_name.split("-")[:2]
        return dist, version
    stem = file_name.removesuffix(".tar.gz")
    dist, _, version = stem.rpartition("-")
    return dist, version


_BY_NAME: dict[str, Callable[[], bytes]] = {
    "dcm4chee.zip": dcm4chee_zip,
    "jboss.zip": jboss_zip,
    "jre.tar.gz": jre_tar_gz,
    "libclib_jiio.so": native_codecs,
}
_GITHUB: dict[str, Callable[[str], bytes]] = {
    "diana2": diana_tar_gz,
    "mytardis": mytardis_tar_gz,
}


def artifact_for(file_name: str, url: str) -> bytes:
    """The stand-in for the download `file_name` (as matrix.yml names it) fetched from `url`."""
    if file_name in _BY_NAME:
        return _BY_NAME[file_name]()
    top = github_top_folder(url)
    if top is not None:
        repo = top.rsplit("-", 1)[0]
        if repo in _GITHUB:
            return _GITHUB[repo](top)
        return python_sdist(top, repo, "0.0.0", SHAPES[repo])
    dist, version = _dist_of(file_name)
    if file_name.endswith(".whl"):
        return python_wheel(file_name, SHAPES[dist])
    if file_name.endswith(".tar.gz"):
        return python_sdist(f"{dist}-{version}", dist, version, SHAPES[dist])
    raise KeyError(f"no test artifact stands in for {file_name}")


# --- a mirror tree of stand-ins ------------------------------------------------------------


def mirror_file(url: str) -> Path:
    """Where a mirror tree holds a URL: `<host>/<path>` (README, "Closed networks")."""
    parts = urllib.parse.urlsplit(url)
    return Path(parts.netloc, parts.path.lstrip("/"))


def image_downloads(matrix: Path, image: str) -> list[tuple[str, str]]:
    """(file name, URL) of every download an image declares, every arch's URL included."""
    doc: dict[str, Any] = yaml.safe_load(matrix.read_text())
    found: list[tuple[str, str]] = []
    for name, entry in (doc["images"][image].get("downloads") or {}).items():
        url = entry["url"] if isinstance(entry, dict) else entry
        urls = url.values() if isinstance(url, dict) else [url]
        found.extend((name, each) for each in urls if each is not None)
    return found


def write_mirror_tree(matrix: Path, images: tuple[str, ...],
                      root: Path) -> dict[str, tuple[str, ...]]:
    """Lay out a stand-in for every URL the images download, as XBUILD_MIRROR expects.

    Returns each image's URLs.
    """
    urls: dict[str, tuple[str, ...]] = {}
    for image in images:
        for name, url in image_downloads(matrix, image):
            target = root / mirror_file(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact_for(name, url))
            urls[image] = (*urls.get(image, ()), url)
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
