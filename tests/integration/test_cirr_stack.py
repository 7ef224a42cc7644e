"""The CIRR stack (stacks/cirr) brought up with `docker compose`, proven with DICOM traffic.

Its images are built by xbuild into a throwaway local registry: orthanc and orthanc-plugins
from the top-level matrix, PostgreSQL from the stack's own matrix. The stack comes up from
that registry with a cirr.env and the two password files, plus two more Orthancs on its
network playing the clinical PACS and the workstation; tests/support/cirr.py has the flow.
The same stack on a swarm: test_cirr_swarm.py.

amd64 runs natively here; arm64v8, everything under QEMU, is an e2e test
(tests/e2e/test_cirr_stack_arm64.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.cirr import STACK, Registry
from tests.support.cirr_stack import compose_plugin, routes_a_study

pytestmark = pytest.mark.integration
__all__ = ["compose_plugin"]  # the module's autouse fixture, re-exported for pytest


def test_cirr_stack_routes_a_study_from_the_pacs_on_amd64(registry: Registry,
                                                          tmp_path: Path) -> None:
    routes_a_study(registry, "amd64", tmp_path, timeout=180)


# --- the compose file, without running it ---------------------------------------------------

EXAMPLE = {line.split("=", 1)[0]: line.split("=", 1)[1]
           for line in (STACK / "cirr.env.example").read_text().splitlines()
           if line and not line.startswith("#")}


def _config(command: list[str], settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    names = set(EXAMPLE)
    env = {k: v for k, v in os.environ.items() if k not in names}
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=STACK,
                          env={**env, **settings})


def test_the_compose_file_is_a_swarm_stack_with_the_seeds_placements() -> None:
    done = _config(["docker", "stack", "config", "-c", "compose.yml"], EXAMPLE)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["postgres"]["deploy"]["placement"]["constraints"] == [
        "node.labels.storage==true"]
    assert services["bridge"]["deploy"]["placement"]["constraints"] == [
        "node.labels.bridge==true"]
    bridge = services["bridge"]["environment"]
    assert bridge["ORTHANC__DICOM_MODALITIES__PACS"] == "PACS,10.0.0.1,11112"  # from cirr.env
    assert services["archive"]["environment"]["ORTHANC__POSTGRESQL__DATABASE"] == "orthanc"
    assert services["archive"]["image"] == "127.0.0.1:5000/derekmerck/orthanc-plugins:latest"
    # Passwords arrive as files under the names the images read, never in the environment.
    targets = {name: [s["target"] for s in service["secrets"]]
               for name, service in services.items()}
    assert targets == {"postgres": ["POSTGRES_PASSWORD"],
                       "archive": ["ORTHANC__REGISTERED_USERS", "ORTHANC__POSTGRESQL__PASSWORD"],
                       "router": ["ORTHANC__REGISTERED_USERS"],
                       "bridge": ["ORTHANC__REGISTERED_USERS"]}
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == \
        "/run/secrets/POSTGRES_PASSWORD"
    for service in services.values():
        assert not {k for k in service["environment"]
                    if "PASSWORD" in k or "USERS" in k} - {"POSTGRES_PASSWORD_FILE"}


@pytest.mark.parametrize("missing", ["CIRR_SECRETS", "ORTHANC_PG_DATABASE", "MOD_PACS",
                                     "MOD_WORKSTATION"])
def test_compose_refuses_a_cirr_env_without_a_required_setting(missing: str) -> None:
    settings = {k: v for k, v in EXAMPLE.items() if k != missing}
    done = _config(["docker", "compose", "-f", "compose.yml", "config", "-q"], settings)
    assert done.returncode != 0
    assert f"set {missing} in cirr.env" in done.stderr
