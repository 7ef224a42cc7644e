"""A registry on 127.0.0.1 that requires a login, and `docker login`/`logout` helpers.

The registry is Debian's ``docker-registry`` (distribution v2) with htpasswd auth: one user,
:data:`USERNAME`, with a password generated per session. distribution only reads bcrypt
htpasswd lines; they are made with Python's ``crypt`` module (libxcrypt's ``$2b$``, Python
3.11 and 3.12) or, where that is gone, ``htpasswd -B`` from apache2-utils.

The Docker CLI keeps what ``docker login`` gives it in ``config.json`` in its config folder
(``--config``, else ``$DOCKER_CONFIG``, else ``~/.docker``), base64-encoded in
``auths.<host>.auth``, unless the config names a ``credsStore``. That folder is shared with
other tests and people, so :func:`logged_in` restores the file as it was. The password is
only ever written to the child's stdin (``--password-stdin``), never to an argv.

Fixtures: ``auth_registry`` (session: the running registry) and ``registry_login`` (one
test logged in to it through the default config folder). Import them into a conftest or a
test module. A missing engine, docker-registry or bcrypt fails the test when ``CI`` is set to
any true value (1, true, yes, on), and skips it otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import require

USERNAME = "xbuild-test"
REALM = "xbuild-test-registry"
BINARY = "docker-registry"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
_CONFIG = """version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {data}}}
  delete: {{enabled: true}}
http:
  addr: "127.0.0.1:{port}"
  secret: "{secret}"
auth:
  htpasswd: {{realm: {realm}, path: {htpasswd}}}
"""


class RegistryProblem(RuntimeError):
    """The registry could not be set up or did not come up."""


@dataclass(frozen=True)
class AuthRegistry:
    """A running registry that requires a login. ``password`` is kept out of its repr."""

    host: str  # "127.0.0.1:<port>"
    username: str
    password: str = field(repr=False)
    home: Path
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log_file(self) -> Path:
        return self.home / "registry.log"

    def basic_auth(self) -> str:
        """An Authorization header value, for requests of a test's own."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


# -- environment --------------------------------------------------------------------------

def engine_problem(docker: str = "docker") -> str | None:
    if shutil.which(docker) is None:
        return "the docker CLI, which is missing"
    probe = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"],
                           capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else f"a Docker engine: {probe.stderr.strip()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- htpasswd -----------------------------------------------------------------------------

def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt htpasswd line ("user:$2b$..."), as distribution needs.

    Raises RegistryProblem when neither Python's crypt (with bcrypt) nor htpasswd is there.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crypt leaves Python in 3.13
        try:
            import crypt
        except ImportError:
            crypt = None  # type: ignore[assignment]
    if crypt is not None and crypt.METHOD_BLOWFISH in crypt.methods:
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**5))
        if hashed and hashed.startswith("$2"):
            return f"{username}:{hashed}"
    if shutil.which("htpasswd") is not None:
        made = subprocess.run(["htpasswd", "-niB", "-C", "5", username], input=password,
                              capture_output=True, text=True, check=False)
        line = made.stdout.strip()
        if made.returncode == 0 and line.startswith(f"{username}:$2"):
            return line
    raise RegistryProblem("no bcrypt for htpasswd: Python's crypt module has none here and "
                          "htpasswd is missing (apt-get install apache2-utils)")


# -- the registry -------------------------------------------------------------------------

def answers_with_challenge(host: str) -> bool:
    """Whether ``host`` answers /v2/ with 401 and a Basic challenge: up, and guarded."""
    connection = http.client.HTTPConnection(host, timeout=2)
    try:
        connection.request("GET", "/v2/")
        response = connection.getresponse()
        response.read()
        challenge = response.getheader("WWW-Authenticate") or ""
        return response.status == 401 and challenge.startswith("Basic ")
    except OSError:
        return False
    finally:
        connection.close()


def _start(home: Path, binary: str, username: str, password: str,
           port: int) -> tuple[subprocess.Popen[bytes], AuthRegistry]:
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    htpasswd = home / "htpasswd"
    htpasswd.touch(mode=0o600)
    htpasswd.write_text(htpasswd_line(username, password) + "\n")
    config = home / "config.yml"
    config.write_text(_CONFIG.format(data=data, port=port, secret=secrets.token_hex(16),
                                     realm=REALM, htpasswd=htpasswd))
    with (home / "registry.log").open("ab") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    registry = AuthRegistry(host=f"127.0.0.1:{port}", username=username, password=password,
                            home=home, pid=process.pid)
    return process, registry


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the registry this module started. The Popen still owns the child (it is not
    reaped until we wait for it), so its pid cannot name anybody else's process."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def auth_registry_running(home: Path, *, binary: str = BINARY, username: str = USERNAME,
                          password: str | None = None) -> Iterator[AuthRegistry]:
    """Run a registry requiring ``username``/``password`` (generated when None) on a free
    port of 127.0.0.1, with its data, config and log under ``home``; stop it on exit."""
    found = shutil.which(binary)
    if found is None:
        raise RegistryProblem(f"{binary} is missing: install Debian's docker-registry")
    password = password if password is not None else secrets.token_urlsafe(18)
    last = "no attempt"
    for _ in range(3):  # another process may take the free port before the registry does
        process, registry = _start(home, found, username, password, free_port())
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None:
                if answers_with_challenge(registry.host):
                    break
                time.sleep(0.1)
            else:
                tail = registry.log_file.read_text(errors="replace").strip().splitlines()[-1:]
                last = tail[0] if tail else "no output"
                continue
            yield registry
            return
        finally:
            _stop(process)
    raise RegistryProblem(f"the auth registry did not come up: {last} (log: {home})")


# -- docker login / logout ----------------------------------------------------------------

def config_folder(config_dir: Path | None = None) -> Path:
    """The Docker CLI's config folder: ``--config``, else $DOCKER_CONFIG, else ~/.docker."""
    if config_dir is not None:
        return config_dir
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _docker(docker: str, config_dir: Path | None, *args: str,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    flags = ["--config", str(config_dir)] if config_dir is not None else []
    return subprocess.run([docker, *flags, *args], input=stdin, capture_output=True,
                          text=True, check=False, timeout=120)


def docker_login(registry: AuthRegistry, *, config_dir: Path | None = None,
                 docker: str = "docker", password: str | None = None,
                 host: str | None = None) -> subprocess.CompletedProcess[str]:
    """``docker login`` to ``registry``, the password on stdin (``password`` overrides the
    registry's, e.g. to try a wrong one; ``host`` the address, e.g. a fault proxy's in front
    of it). Returns the finished process; check its returncode."""
    return _docker(docker, config_dir, "login", "--username", registry.username,
                   "--password-stdin", host or registry.host,
                   stdin=registry.password if password is None else password)


def docker_logout(host: str, *, config_dir: Path | None = None,
                  docker: str = "docker") -> subprocess.CompletedProcess[str]:
    return _docker(docker, config_dir, "logout", host)


def stored_auths(config_dir: Path | None = None) -> dict[str, Any]:
    """The ``auths`` of the CLI's config.json ({} when there is none)."""
    path = config_folder(config_dir) / "config.json"
    try:
        auths = json.loads(path.read_text()).get("auths")
    except FileNotFoundError:
        return {}
    return auths if isinstance(auths, dict) else {}


def _without_empty_auths(config: object) -> object:
    """What a config says, for comparing: no file says what ``{}`` or empty auths say."""
    if config is None:
        return {}
    if isinstance(config, dict) and config.get("auths") == {}:
        return {key: value for key, value in config.items() if key != "auths"}
    return config


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.json.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def restore_config(path: Path, before: bytes | None, host: str) -> None:
    """Put config.json back as it was before a login to ``host``.

    Once our entry is gone (logout normally removed it), if the file says what it said
    before, its old bytes are written back (or it is removed, when there was none). If
    somebody else changed it meanwhile, their change is kept and only our entry removed.
    """
    try:
        now: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        now = None
    except ValueError:
        return  # not ours to repair
    if isinstance(now, dict) and isinstance(now.get("auths"), dict):
        now["auths"].pop(host, None)
    then = json.loads(before) if before else None
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    if _without_empty_auths(now) == _without_empty_auths(then):
        if before is None:
            path.unlink(missing_ok=True)
        else:
            _write_atomically(path, before, mode)
    elif now is not None:
        _write_atomically(path, json.dumps(now, indent="\t").encode(), mode)


@contextlib.contextmanager
def logged_in(registry: AuthRegistry, *, config_dir: Path | None = None,
              docker: str = "docker", host: str | None = None) -> Iterator[Path]:
    """Logged in to ``registry`` (at ``host``, e.g. a fault proxy in front of it, when
    given) for the duration; yields the config.json path. On exit: ``docker logout`` and
    config.json restored (see :func:`restore_config`)."""
    host = host or registry.host
    path = config_folder(config_dir) / "config.json"
    before = path.read_bytes() if path.exists() else None
    try:
        login = docker_login(registry, config_dir=config_dir, docker=docker, host=host)
        if login.returncode != 0:
            output = (login.stdout + login.stderr).replace(registry.password, "<password>")
            raise RegistryProblem(f"docker login {host} failed: {output.strip()}")
        yield path
    finally:
        docker_logout(host, config_dir=config_dir, docker=docker)
        restore_config(path, before, host)


# -- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A registry requiring a login on 127.0.0.1, for the whole session."""
    require(engine_problem())
    require(None if shutil.which(BINARY) else f"{BINARY} (Debian's docker-registry)")
    try:
        htpasswd_line(USERNAME, "probe")
    except RegistryProblem as problem:
        require(str(problem))
    with auth_registry_running(tmp_path_factory.mktemp("auth-registry")) as registry:
        yield registry


@pytest.fixture
def registry_login(auth_registry: AuthRegistry) -> Iterator[AuthRegistry]:
    """The test runs logged in to ``auth_registry`` through the default config folder
    (what xbuild and docker see); logged out and config.json restored afterwards."""
    with logged_in(auth_registry):
        yield auth_registry
