"""The registry that requires a login (tests/support/authregistry.py) and its docker helpers.

Docker's own behaviour is what is asserted: a push without credentials is refused, a push
after `docker login` works, the credential lands in config.json and is gone afterwards.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.authregistry import (
    USERNAME,
    AuthRegistry,
    auth_registry,
    config_folder,
    docker_login,
    docker_logout,
    logged_in,
    registry_login,
    restore_config,
    stored_auths,
)
from tests.support.engine import ci_is_set, require
from tests.support.faultproxy import fault_proxy

pytestmark = [pytest.mark.integration, pytest.mark.harness]  # tests tests/support
__all__ = ["auth_registry", "registry_login"]  # fixtures, imported for pytest

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def docker(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *map(str, args)], capture_output=True, text=True,
                          check=False, timeout=300)


def status_of(registry: AuthRegistry, method: str, target: str,
              authorized: bool = True) -> int:
    """What the registry answers, asked directly (with the test user's credentials)."""
    headers = {"Accept": MANIFEST_V2}
    if authorized:
        headers["Authorization"] = registry.basic_auth()
    connection = http.client.HTTPConnection(registry.host, timeout=10)
    try:
        connection.request(method, target, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def image(auth_registry: AuthRegistry, tmp_path: Path) -> Iterator[str]:
    """A FROM-scratch image tagged for the auth registry, unique to the test; removed after."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "hello").write_text(f"hello {uuid.uuid4()}\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    ref = f"{auth_registry.host}/xbuild-auth/{uuid.uuid4().hex[:10]}:t"
    built = docker("build", "--quiet", "--tag", ref, context)
    assert built.returncode == 0, built.stderr
    yield ref
    docker("image", "rm", "--force", ref)


def manifest_target(ref: str) -> str:
    repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
    return f"/v2/{repository}/manifests/{tag}"


@pytest.fixture
def empty_config(tmp_path: Path) -> Path:
    """A Docker config folder of the test's own, with no credentials in it."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    return folder


def test_the_registry_challenges_anonymous_requests(auth_registry: AuthRegistry) -> None:
    assert status_of(auth_registry, "GET", "/v2/", authorized=False) == 401
    assert status_of(auth_registry, "GET", "/v2/") == 200
    connection = http.client.HTTPConnection(auth_registry.host, timeout=10)
    wrong = base64.b64encode(f"{USERNAME}:not-the-password".encode()).decode()
    try:
        connection.request("GET", "/v2/", headers={"Authorization": f"Basic {wrong}"})
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 401
    assert response.getheader("WWW-Authenticate") == 'Basic realm="xbuild-test-registry"'
    assert body["errors"][0]["code"] == "UNAUTHORIZED"
    assert auth_registry.password not in repr(auth_registry)


def test_push_without_login_is_refused(auth_registry: AuthRegistry, image: str,
                                       empty_config: Path) -> None:
    pushed = docker("--config", empty_config, "push", image)
    assert pushed.returncode != 0
    assert "no basic auth credentials" in pushed.stderr
    assert status_of(auth_registry, "HEAD", manifest_target(image)) == 404


def test_buildx_push_without_login_is_refused(auth_registry: AuthRegistry, tmp_path: Path,
                                              empty_config: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM scratch\nLABEL run={uuid.uuid4()}\n")
    ref = f"{auth_registry.host}/xbuild-auth/buildx:t"
    built = docker("--config", empty_config, "buildx", "build", "--platform", "linux/amd64",
                   "--push", "--tag", ref, tmp_path)
    docker("image", "rm", "--force", ref)
    assert built.returncode != 0
    assert "no basic auth credentials" in built.stderr.splitlines()[-1]
    assert status_of(auth_registry, "HEAD", manifest_target(ref)) == 404


def test_login_with_a_wrong_password_fails(auth_registry: AuthRegistry,
                                           empty_config: Path) -> None:
    login = docker_login(auth_registry, config_dir=empty_config, password="not-it")
    assert login.returncode != 0
    assert "unauthorized" in login.stderr.lower()
    assert stored_auths(empty_config) == {}


def test_push_after_login_works_and_logout_forgets(auth_registry: AuthRegistry, image: str,
                                                   empty_config: Path) -> None:
    login = docker_login(auth_registry, config_dir=empty_config)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    pushed = docker("--config", empty_config, "push", image)
    assert pushed.returncode == 0, pushed.stderr
    assert status_of(auth_registry, "HEAD", manifest_target(image)) == 200
    for output in (login.stdout, login.stderr, pushed.stdout, pushed.stderr):
        assert auth_registry.password not in output
    assert docker_logout(auth_registry.host, config_dir=empty_config).returncode == 0
    again = docker("--config", empty_config, "push", image)
    assert again.returncode != 0
    assert "no basic auth credentials" in again.stderr


def test_the_cli_stores_the_login_in_config_json(auth_registry: AuthRegistry,
                                                 empty_config: Path) -> None:
    with logged_in(auth_registry, config_dir=empty_config) as path:
        assert path == empty_config / "config.json"
        entry = json.loads(path.read_text())["auths"][auth_registry.host]
        secret = base64.b64decode(entry["auth"]).decode()
        assert secret == f"{USERNAME}:{auth_registry.password}"  # stored, merely base64
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.exists()  # there was none before


def test_login_never_puts_the_password_on_argv(auth_registry: AuthRegistry,
                                               tmp_path: Path) -> None:
    """A stand-in docker records its argv and stdin."""
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\ncat > "$0.stdin"\n')
    fake.chmod(0o755)
    done = docker_login(auth_registry, config_dir=tmp_path / "cfg", docker=str(fake))
    assert done.returncode == 0
    assert (tmp_path / "docker.argv").read_text().splitlines() == [
        "--config", str(tmp_path / "cfg"), "login", "--username", USERNAME,
        "--password-stdin", auth_registry.host]
    assert (tmp_path / "docker.stdin").read_text() == auth_registry.password


def test_logged_in_restores_a_config_byte_for_byte(auth_registry: AuthRegistry,
                                                   empty_config: Path) -> None:
    path = empty_config / "config.json"
    before = b'{\n  "auths": {"elsewhere.example:5000": {"auth": "eDp5"}},\n  ' \
             b'"detachKeys": "ctrl-x,x"\n}\n'
    path.write_bytes(before)
    path.chmod(0o640)
    with logged_in(auth_registry, config_dir=empty_config):
        assert set(stored_auths(empty_config)) == {"elsewhere.example:5000",
                                                   auth_registry.host}
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_logged_in_keeps_a_change_made_meanwhile(auth_registry: AuthRegistry,
                                                 empty_config: Path) -> None:
    path = empty_config / "config.json"
    with logged_in(auth_registry, config_dir=empty_config):
        changed = json.loads(path.read_text())
        changed["auths"]["other.example"] = {"auth": "eTp6"}
        path.write_text(json.dumps(changed))
    assert json.loads(path.read_text()) == {"auths": {"other.example": {"auth": "eTp6"}}}


def test_restore_removes_our_entry_even_if_logout_did_not(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"127.0.0.1:1": {"auth": "eDp5"}}}')
    restore_config(path, None, "127.0.0.1:1")
    assert not path.exists()


def test_registry_login_uses_the_default_config_and_restores_it(
        auth_registry: AuthRegistry) -> None:
    """What the shared fixture does to the real ~/.docker (or $DOCKER_CONFIG)."""
    path = config_folder() / "config.json"
    before = path.read_bytes() if path.exists() else None
    with logged_in(auth_registry):
        assert auth_registry.host in stored_auths()
        assert docker("pull", f"{auth_registry.host}/xbuild-auth/none:t").stderr.count(
            "no basic auth credentials") == 0  # logged in: a plain "not found" instead
    assert (path.read_bytes() if path.exists() else None) == before


def test_registry_login_fixture_logs_in(registry_login: AuthRegistry, image: str) -> None:
    pushed = docker("push", image)
    assert pushed.returncode == 0, pushed.stderr
    assert status_of(registry_login, "HEAD", manifest_target(image)) == 200


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("True", True), ("yes", True), ("", False), ("0", False),
    ("false", False),
])
def test_ci_is_set_for_any_true_value(monkeypatch: pytest.MonkeyPatch, value: str,
                                      expected: bool) -> None:
    monkeypatch.setitem(os.environ, "CI", value)
    assert ci_is_set() is expected


def test_a_fault_proxy_in_front_passes_the_login_through(
        auth_registry: AuthRegistry, image: str, empty_config: Path) -> None:
    with fault_proxy(auth_registry.host) as proxy:
        ref = image.replace(auth_registry.host, proxy.host, 1)
        assert docker("tag", image, ref).returncode == 0
        try:
            refused = docker("--config", empty_config, "push", ref)
            with logged_in(auth_registry, config_dir=empty_config, host=proxy.host):
                pushed = docker("--config", empty_config, "push", ref)
        finally:
            docker("image", "rm", ref)
        answers = proxy.manifests(r"/manifests/t$")
    assert refused.returncode != 0
    assert "no basic auth credentials" in refused.stderr
    assert pushed.returncode == 0, pushed.stderr
    assert proxy.count(status=401) >= 1  # the challenge came through the proxy
    assert proxy.count(method="PUT", path_regex="/manifests/") == 1
    assert [(a.method, a.status) for a in answers] == [("PUT", 201)]
    assert status_of(auth_registry, "HEAD", manifest_target(image)) == 200


@pytest.mark.parametrize(("value", "outcome"), [
    ("1", pytest.fail.Exception), ("True", pytest.fail.Exception),
    ("", pytest.skip.Exception), ("false", pytest.skip.Exception),
])
def test_something_missing_fails_under_ci_and_skips_elsewhere(
        monkeypatch: pytest.MonkeyPatch, value: str, outcome: type[BaseException]) -> None:
    monkeypatch.setitem(os.environ, "CI", value)
    require(None)  # nothing missing: neither
    with pytest.raises(outcome, match="docker-registry"):
        require("docker-registry")
