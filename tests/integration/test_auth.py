"""xbuild against a registry that requires a login (htpasswd): without `docker login`, one
line naming the registry and `docker login`, no retries, no credential anywhere; after it,
pushes, lists, signatures and verify work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.authregistry import AuthRegistry, auth_registry, registry_login
from tests.support.cosign_keys import key_pair
from tests.support.run import FixtureMatrix, xbuild

pytestmark = pytest.mark.integration
__all__ = ["auth_registry", "registry_login"]  # fixtures, for pytest


def everything_said(*outputs: str, logs: Path) -> str:
    return "".join(outputs) + "".join(p.read_text(errors="replace") for p in logs.rglob("*")
                                       if p.is_file())


def test_without_a_login_one_line_names_the_registry_and_docker_login(
        auth_registry: AuthRegistry, fixture_matrix: FixtureMatrix, tmp_path: Path) -> None:
    started = time.monotonic()
    run = xbuild("build", "duo", "--push", "-f", fixture_matrix.path, "--namespace",
                 f"{auth_registry.host}/guarded", "--log-dir", tmp_path)
    assert run.exit_code == 4, run.stderr
    assert time.monotonic() - started < 30  # refused at once: a refusal is not retried
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"xbuild: error: {auth_registry.host} refused to show ")
    assert line.endswith(f"log in with `docker login {auth_registry.host}`")
    assert auth_registry.password not in everything_said(run.stdout, run.stderr, logs=tmp_path)


def test_after_docker_login_pushes_lists_and_verify_work(
        registry_login: AuthRegistry, fixture_matrix: FixtureMatrix, tmp_path: Path) -> None:
    namespace = f"{registry_login.host}/guarded"
    run = xbuild("build", "duo", "--push", "--verify", "-f", fixture_matrix.path,
                 "--namespace", namespace, "--log-dir", tmp_path, "--json")
    assert run.exit_code == 0, run.stderr
    verified = xbuild("verify", f"{namespace}/duo:latest", "-f", fixture_matrix.path)
    assert verified.exit_code == 0, verified.stderr
    merged = xbuild("manifest", "duo", "-f", fixture_matrix.path, "--namespace", namespace)
    assert merged.exit_code == 0, merged.stderr
    said = everything_said(run.stdout, run.stderr, verified.stderr, merged.stderr, logs=tmp_path)
    assert registry_login.password not in said


def test_a_signed_release_keeps_the_registry_password_and_the_key_password_to_itself(
        registry_login: AuthRegistry, fixture_matrix: FixtureMatrix, tmp_path: Path) -> None:
    """cosign reads the registry login from docker's config, as skopeo does; the key's
    password reaches it in its environment only."""
    key_password = "key-password-never-said"
    key, public = key_pair(tmp_path / "keys", key_password)
    namespace = f"{registry_login.host}/signed"
    run = xbuild("-v", "build", "duo", "--push", "--sign-key", key, "-f", fixture_matrix.path,
                 "--namespace", namespace, "--log-dir", tmp_path / "logs", "--json",
                 env={"COSIGN_PASSWORD": key_password})
    assert run.exit_code == 0, run.stderr
    verified = xbuild("-v", "verify", f"{namespace}/duo:latest", "--key", public, "--json")
    assert verified.exit_code == 0, verified.stderr
    said = everything_said(run.stdout, run.stderr, verified.stdout, verified.stderr,
                           logs=tmp_path / "logs")
    assert registry_login.password not in said and key_password not in said
