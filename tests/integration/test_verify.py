"""`xbuild verify` against images that tell the truth and images that lie (tests/support/liars.py).

Every scenario is pushed to the session registry under `liars/<scenario>` and verified twice:
with --json (the report on stdout) and without (the human table on stderr). Verify runs in an
empty folder, so no ./matrix.yml is picked up unless a test passes -f.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.liars import LISTS, Liars
from tests.support.run import Cli, docker, xbuild
from xbuild.core.platforms import Platform, arch_named
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

STATUSES = {"pass", "fail", "n/a", "not checked"}
CORE_CHECKS = {"list", "config", "label", "run", "elf", "dpkg"}
TRUST_CHECKS = {"signature", "sbom", "provenance"}  # without --key: not checked, never passed
UNAME = {"amd64": "x86_64", "arm64v8": "aarch64", "arm32v7": "armv7l"}
Report = dict[str, Any]


def containers() -> set[str]:
    listed = docker("ps", "-a", "-q", "--no-trunc")
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


def container_images(ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    shown = docker("inspect", "--format", "{{.Id}} {{.Config.Image}}", *sorted(ids))
    return dict(line.split(" ", 1) for line in shown.stdout.splitlines() if " " in line)


@dataclass(frozen=True)
class Verified:
    ref: str
    machine: Cli  # --json
    human: Cli
    leftovers: dict[str, str]  # containers made during the runs that still exist -> image

    @property
    def report(self) -> Report:
        return self.machine.json()

    def arches(self) -> dict[str, dict[str, Any]]:
        arches = self.report["arches"]
        assert isinstance(arches, list)
        return {entry["arch"]: entry for entry in arches}

    def checks(self, arch: str) -> dict[str, dict[str, Any]]:
        return {c["check"]: c for c in self.arches()[arch]["checks"]}

    def status(self, arch: str, check: str) -> str:
        """The check's status, or "<missing>" when the report has no such check."""
        return str(self.checks(arch).get(check, {"status": "<missing>"})["status"])

    def context(self) -> str:
        return f"\n--- json (exit {self.machine.exit_code}) ---\n{self.machine.stdout}" \
               f"\n{self.machine.stderr}\n--- human (exit {self.human.exit_code}) ---\n" \
               f"{self.human.stderr}"


def verify(ref: str, *args: str | Path, cwd: Path, registry: LocalRegistry) -> Verified:
    before = containers()
    machine = xbuild("verify", ref, *args, "--json", cwd=cwd)
    human = xbuild("verify", ref, *args, cwd=cwd)
    made = containers() - before
    mine = {cid: image for cid, image in container_images(made).items()
            if image.startswith(f"{registry.address}/liars/")}  # other tests may run too
    return Verified(ref=ref, machine=machine, human=human, leftovers=mine)


def assert_sane(run: Verified, exit_code: int) -> None:
    """Exit code in both modes, a well-formed report, no traceback, no container left."""
    assert run.machine.exit_code == exit_code, run.context()
    assert run.human.exit_code == exit_code, run.context()
    for cli in (run.machine, run.human):
        assert "Traceback" not in cli.stderr, run.context()
    report = run.report
    assert isinstance(report["ref"], str)
    assert "liars/" in report["ref"]
    assert report["ok"] is (exit_code == 0)
    assert isinstance(report["warnings"], list)
    assert all(isinstance(w, str) for w in report["warnings"])
    for entry in report["arches"]:
        arch = arch_named(entry["arch"])
        assert arch is not None, entry
        assert Platform.parse(entry["platform"]).same_as(arch.platform), entry
        statuses = [c["status"] for c in entry["checks"]]
        assert set(statuses) <= STATUSES, entry
        assert entry["ok"] is ("fail" not in statuses), entry
        for check in entry["checks"]:
            assert isinstance(check["observed"], str), check
            assert isinstance(check["expected"], str), check
    assert run.leftovers == {}, f"containers left behind: {run.leftovers}"


ARCH_ROWS = ("amd64", "arm32v7", "arm64v8")


def table(text: str) -> dict[tuple[str, str], str]:
    """The verdict on stderr as {(arch, check): cell}: off a terminal, one line per arch,
    `<arch>  <check>: <cell>; <check>: <cell>` (a cell's own lines joined by ` — `)."""
    cells = {}
    for line in text.splitlines():
        arch, _, rest = line.partition("  ")
        if arch in ARCH_ROWS and rest.startswith("list: "):
            for pair in rest.split("; "):
                check, _, cell = pair.partition(": ")
                cells[(arch, check)] = cell.replace(" — ", " ")
    return cells


def assert_human_names(run: Verified, arch: str, check: str) -> None:
    """The table on stderr has a row for `arch`, a column for `check`, and ✗ where they meet."""
    cells = table(run.human.stderr)
    assert (arch, check) in cells, f"no cell ({arch}, {check}) in {sorted(cells)}{run.context()}"
    assert cells[arch, check].startswith("✗"), (cells[arch, check], run.context())


def assert_arch_passes(run: Verified, arch: str) -> None:
    entry = run.arches()[arch]
    assert entry["ok"] is True, run.context()
    assert {c["status"] for c in entry["checks"] if c["check"] not in TRUST_CHECKS} \
        <= {"pass", "n/a"}, run.context()
    assert {c["status"] for c in entry["checks"] if c["check"] in TRUST_CHECKS} \
        == {"not checked"}, run.context()
    assert entry["digest"].startswith("sha256:"), entry


# --- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def liars(registry: LocalRegistry, busybox: dict[str, Path],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Liars]:
    made = Liars(registry.address, tmp_path_factory.mktemp("liars"), busybox)
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where verify runs: no ./matrix.yml to pick up."""
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(scope="module")
def honest(liars: Liars, empty_dir: Path, registry: LocalRegistry) -> Verified:
    return verify(liars.honest(), cwd=empty_dir, registry=registry)


@pytest.fixture(scope="module")
def missing_arch(liars: Liars, empty_dir: Path, registry: LocalRegistry) -> Verified:
    return verify(liars.missing_arch(), "--arch", "amd64", "--arch", "arm64v8",
                  "--arch", "arm32v7", cwd=empty_dir, registry=registry)


@pytest.fixture(scope="module")
def lying_entry(liars: Liars, empty_dir: Path, registry: LocalRegistry) -> Verified:
    return verify(liars.lying_entry(), cwd=empty_dir, registry=registry)


@pytest.fixture(scope="module")
def lying_label(liars: Liars, empty_dir: Path, registry: LocalRegistry) -> Verified:
    return verify(liars.lying_label(), cwd=empty_dir, registry=registry)


@pytest.fixture(scope="module")
def config_lies(liars: Liars, empty_dir: Path, registry: LocalRegistry) -> Verified:
    return verify(liars.config_lies(), "--arch", "arm32v7", "--arch", "amd64",
                  cwd=empty_dir, registry=registry)


@pytest.fixture(scope="module")
def no_shell(liars: Liars, empty_dir: Path, registry: LocalRegistry) -> Verified:
    return verify(liars.no_shell(), cwd=empty_dir, registry=registry)


# --- 1. honest -------------------------------------------------------------------------
def test_honest_list_passes_every_check(honest: Verified) -> None:
    assert_sane(honest, 0)
    assert honest.report["warnings"] == [], honest.context()
    assert set(honest.arches()) == {"amd64", "arm64v8", "arm32v7"}
    for arch in honest.arches():
        assert_arch_passes(honest, arch)
        checks = honest.checks(arch)
        assert set(checks) == CORE_CHECKS | TRUST_CHECKS, checks
        for name in ("list", "config", "label", "run", "elf"):
            assert checks[name]["status"] == "pass", (arch, checks[name])
        assert checks["dpkg"]["status"] == "n/a", checks["dpkg"]
        assert checks["label"]["observed"] == arch
        assert checks["run"]["observed"] == UNAME[arch], checks["run"]


def test_honest_digests_are_the_list_entries(honest: Verified, liars: Liars) -> None:
    entries = liars.api.list_entries(liars.name("honest"), "latest")
    by_platform = {Platform.parse("/".join(filter(None, (
        e["platform"]["os"], e["platform"]["architecture"], e["platform"].get("variant")))))
        .normalised(): e["digest"] for e in entries}
    for arch, entry in honest.arches().items():
        known = arch_named(arch)
        assert known is not None
        assert entry["digest"] == by_platform[known.platform.normalised()], (arch, entries)


def test_honest_table_shows_every_arch_passing(honest: Verified) -> None:
    cells = table(honest.human.stderr)
    assert {arch for arch, _ in cells} == {"amd64", "arm64v8", "arm32v7"}, honest.context()
    assert {check for _, check in cells} == CORE_CHECKS | TRUST_CHECKS, honest.context()
    for (arch, check), cell in cells.items():
        expected = "n/a" if check == "dpkg" else "– not checked" if check in TRUST_CHECKS \
            else "✓"
        assert cell.startswith(expected), (arch, check, cell)
    assert cells["arm32v7", "run"] == "✓ armv7l"
    assert "✗" not in honest.human.stderr, honest.context()
    assert not honest.human.stdout.lstrip().startswith("{")  # JSON only with --json


def test_ref_with_a_digest_is_verified(honest: Verified, liars: Liars, empty_dir: Path,
                                       registry: LocalRegistry) -> None:
    listed, _ = liars.api.manifest(liars.name("honest"), "latest", accept=LISTS)
    run = verify(f"{liars.repository('honest')}@{listed.digest}", cwd=empty_dir,
                 registry=registry)
    assert_sane(run, 0)
    assert set(run.arches()) == {"amd64", "arm64v8", "arm32v7"}
    assert {a: e["digest"] for a, e in run.arches().items()} == \
        {a: e["digest"] for a, e in honest.arches().items()}


def test_unparseable_ref_is_bad_input(empty_dir: Path) -> None:
    for ref in ("Not A/Ref!", "127.0.0.1:5000/liars/x:bad:tag", "liars/x@sha256:nothex"):
        run = xbuild("verify", ref, "--json", cwd=empty_dir)
        assert run.exit_code == 2, (ref, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr


# --- 2. missing arch -------------------------------------------------------------------
def test_missing_arch_fails_its_list_check(missing_arch: Verified) -> None:
    assert_sane(missing_arch, 7)
    assert set(missing_arch.arches()) == {"amd64", "arm64v8", "arm32v7"}
    assert missing_arch.status("arm32v7", "list") == "fail", missing_arch.context()
    assert missing_arch.arches()["arm32v7"]["ok"] is False
    assert_arch_passes(missing_arch, "amd64")
    assert_arch_passes(missing_arch, "arm64v8")
    assert_human_names(missing_arch, "arm32v7", "list")


def test_without_arch_the_list_names_the_expected_arches(
        missing_arch: Verified, empty_dir: Path, registry: LocalRegistry) -> None:
    run = verify(missing_arch.ref, cwd=empty_dir, registry=registry)
    assert_sane(run, 0)
    assert set(run.arches()) == {"amd64", "arm64v8"}


# --- 3. a list entry that lies ---------------------------------------------------------
def test_arm64_entry_pointing_at_amd64_fails_config_and_elf(lying_entry: Verified) -> None:
    assert_sane(lying_entry, 7)
    assert lying_entry.status("arm64v8", "list") == "pass"  # the entry is there; it lies
    assert lying_entry.status("arm64v8", "config") == "fail", lying_entry.context()
    assert lying_entry.status("arm64v8", "elf") == "fail", lying_entry.context()
    assert lying_entry.status("arm64v8", "run") != "pass", lying_entry.context()
    config = lying_entry.checks("arm64v8")["config"]
    assert config["observed"] == "linux/amd64", config  # what the config says
    assert lying_entry.arches()["arm64v8"]["ok"] is False
    assert_arch_passes(lying_entry, "amd64")
    assert_human_names(lying_entry, "arm64v8", "config")
    assert_human_names(lying_entry, "arm64v8", "elf")


# --- 4. a label that lies --------------------------------------------------------------
def test_arm64_image_labelled_amd64_fails_label(lying_label: Verified) -> None:
    assert_sane(lying_label, 7)
    label = lying_label.checks("arm64v8")["label"]
    assert label["status"] == "fail", lying_label.context()
    assert label["observed"] == "amd64"
    assert label["expected"] == "arm64v8"
    others = {n: c["status"] for n, c in lying_label.checks("arm64v8").items() if n != "label"}
    assert "fail" not in others.values(), others
    assert_arch_passes(lying_label, "amd64")
    assert_human_names(lying_label, "arm64v8", "label")


# --- 5. a config that lies -------------------------------------------------------------
def test_arm64_binaries_under_an_arm_v7_config_fail_elf(config_lies: Verified) -> None:
    assert_sane(config_lies, 7)
    assert set(config_lies.arches()) == {"arm32v7", "amd64"}
    checks = config_lies.checks("arm32v7")
    assert checks["config"]["status"] == "pass"  # the rewritten config says arm/v7
    assert checks["label"]["status"] == "pass"  # and so does its label
    elf = checks["elf"]
    assert elf["status"] == "fail", config_lies.context()
    assert "183" in elf["observed"] or "aarch64" in elf["observed"].lower(), elf
    # `arch` runs the arm64 busybox through qemu-aarch64 and answers aarch64: an answer a
    # 32-bit userspace on a 64-bit kernel may give too, so it counts only with a passing ELF
    assert (checks["run"]["status"], checks["run"]["observed"]) == ("fail", "aarch64")
    assert_arch_passes(config_lies, "amd64")
    assert_human_names(config_lies, "arm32v7", "elf")


# --- 6. no shell -----------------------------------------------------------------------
def test_image_without_a_shell_is_read_not_run(no_shell: Verified) -> None:
    assert_sane(no_shell, 0)
    assert set(no_shell.arches()) == {"amd64", "arm64v8"}
    for arch in ("amd64", "arm64v8"):
        assert_arch_passes(no_shell, arch)
        checks = no_shell.checks(arch)
        assert checks["run"]["status"] == "n/a", checks["run"]
        assert checks["dpkg"]["status"] == "n/a", checks["dpkg"]
        assert checks["label"]["status"] == "n/a", checks["label"]
        assert checks["elf"]["status"] == "pass", checks["elf"]
        assert checks["config"]["status"] == "pass"
        assert checks["list"]["status"] == "pass"


# --- with a matrix: expected arches, default tag, smoke --------------------------------
def _matrix(folder: Path, liars: Liars, smoke: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # verify reads no context, but a matrix's contexts must lie inside its own folder
    shutil.copytree(liars.contexts["shell"], folder / "honest", dirs_exist_ok=True)
    matrix = {"namespace": liars.prefix, "tag": "from-matrix",
              "architectures": ["amd64", "arm64v8", "arm32v7"],
              "images": {"honest": {"context": "honest",
                                    "architectures": ["amd64", "arm64v8"], "smoke": smoke}}}
    path = folder / "matrix.yml"
    path.write_text(yaml.safe_dump(matrix))
    return path


@pytest.fixture(scope="module")
def matrix_tagged(honest: Verified, liars: Liars) -> str:
    """The honest list, also under the tag the test matrices name."""
    return liars.image_list("honest", [honest.ref], tag="from-matrix")


def test_matrix_names_arches_tag_and_passing_smoke(
        matrix_tagged: str, liars: Liars, empty_dir: Path, registry: LocalRegistry,
        tmp_path: Path) -> None:
    matrix = _matrix(tmp_path, liars, {"busybox-runs": "busybox true",
                                       "sees-its-arch": "test -n \"$(arch)\""})
    run = verify(liars.repository("honest"), "-f", matrix, cwd=empty_dir, registry=registry)
    assert_sane(run, 0)
    assert set(run.arches()) == {"amd64", "arm64v8"}  # the matrix entry's, not the list's
    for arch in ("amd64", "arm64v8"):
        checks = run.checks(arch)
        assert checks["smoke:busybox-runs"]["status"] == "pass", checks
        assert checks["smoke:sees-its-arch"]["status"] == "pass", checks
    warnings = " ".join(run.report["warnings"])
    assert "arm/v7" in warnings or "arm32v7" in warnings, run.context()


def test_failing_smoke_fails_the_arch(matrix_tagged: str, liars: Liars, empty_dir: Path,
                                      registry: LocalRegistry, tmp_path: Path) -> None:
    matrix = _matrix(tmp_path, liars, {"has-os-release": "test -e /etc/os-release"})
    run = verify(liars.repository("honest"), "-f", matrix, cwd=empty_dir, registry=registry)
    assert_sane(run, 7)
    for arch in ("amd64", "arm64v8"):
        assert run.status(arch, "smoke:has-os-release") == "fail", run.context()
    assert_human_names(run, "amd64", "smoke:has-os-release")


@pytest.mark.harness
def test_no_leftover_local_tags_after_cleanup(registry: LocalRegistry, busybox: dict[str, Path],
                                              tmp_path: Path) -> None:
    """Liars.cleanup untags what it built and what was pulled from liars/ repositories."""
    made = Liars(registry.address, tmp_path, busybox)
    ref = made.build("cleanup-probe", "amd64", label="amd64")
    assert docker("image", "inspect", ref).returncode == 0
    made.cleanup()
    listing = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert f"{registry.address}/liars/cleanup-probe" not in listing
