"""`xbuild sbom` on a Debian image made here with mmdebstrap (amd64, the essential set), pushed
to the session registry: its SBOM lists what `dpkg-query` inside the image says, and is valid
CycloneDX 1.6."""

from __future__ import annotations

import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.support.debian_rootfs import essential_context
from tests.support.run import docker, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

@pytest.fixture(scope="session")
def debian_image(tmp_path_factory: pytest.TempPathFactory, registry: LocalRegistry,
                 engine: None) -> str:
    """bookworm's essential packages (about 20), FROM scratch, pushed as a single image."""
    context = essential_context(tmp_path_factory, "debian")
    ref = f"{registry.address}/sbom/debian:bookworm-amd64"
    built = docker("build", "-q", "-t", ref, "--platform", "linux/amd64", str(context))
    assert built.returncode == 0, built.stderr
    pushed = docker("push", "-q", ref)
    assert pushed.returncode == 0, pushed.stderr
    return ref


def dpkg_query(ref: str) -> set[str]:
    """What dpkg inside the image says, read independently of xbuild."""
    done = docker("run", "--rm", "--network", "none", ref, "dpkg-query", "-W", "-f",
                  "${Package} ${Version} ${Architecture}\\n")
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines())


def test_the_sbom_lists_what_dpkg_says_and_is_valid_cyclonedx(debian_image: str) -> None:
    result = xbuild("sbom", debian_image, "--json")
    assert result.exit_code == 0, result.stderr
    boms = result.json()
    assert list(boms) == ["amd64"]
    bom = boms["amd64"]
    assert isinstance(bom, dict)
    listed = {f"{c['name']} {c['version']} {c['purl'].split('arch=')[1].split('&')[0]}"
              for c in bom["components"] if c.get("purl", "").startswith("pkg:deb/")}
    expected = dpkg_query(debian_image)
    assert len(expected) > 10
    assert listed == expected
    assert all("distro=debian-12" in c["purl"] for c in bom["components"])
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(json.dumps(bom)) is None
    assert "SBOM of" in result.stderr


def test_one_package_s_version_in_one_line(debian_image: str) -> None:
    version = next(line.split()[1] for line in dpkg_query(debian_image)
                   if line.startswith("dpkg "))
    result = xbuild("sbom", debian_image, "--package", "dpkg")
    assert result.exit_code == 0, result.stderr
    assert f"dpkg {version} (amd64)" in result.stderr
    assert result.stdout == ""
