"""The second Docker engine (tests/support/second_engine.py): a second real node on this host,
reached through its docker context, with its own image store, that builds arm64 under QEMU and
pushes to the local registry; and that nothing of it survives its session, however it ends.

Every reading here is independent of the module's own sweep: docker, ip and /proc directly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.engine import require
from tests.support.run import docker
from tests.support.second_engine import (
    REPO,
    SecondEngine,
    Slot,
    claim_slot,
    problem,
    running_engine,
    sweep,
)
from xbuild.host.local_registry import LocalRegistry

pytestmark = [pytest.mark.integration, pytest.mark.harness]  # tests tests/support

# A session that starts an engine, prints its record and waits to be killed; it ends (and
# stops its engine) when its stdin closes, so it never outlives the test's process.
SESSION = """
import dataclasses, json, sys
from pathlib import Path
from tests.support.second_engine import running_engine
with running_engine(Path(sys.argv[1])) as engine:
    print(json.dumps(dataclasses.asdict(engine), default=str), flush=True)
    sys.stdin.read()
"""


def on_default(*args: str) -> subprocess.CompletedProcess[str]:
    """The host's own engine, named explicitly whatever DOCKER_CONTEXT says."""
    return docker("--context", "default", *args)


def default_answers() -> bool:
    return on_default("version", "--format", "{{.Server.Version}}").returncode == 0


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def argv_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def remains(slot: Slot, pid: int) -> list[str]:
    """What is left of the slot's engine on the host, one phrase each."""
    left = []
    if running(pid):
        left.append(f"dockerd {pid} runs")
    if subprocess.run(["ip", "link", "show", "dev", slot.bridge],
                      capture_output=True, check=False).returncode == 0:
        left.append(f"bridge {slot.bridge}")
    if docker("context", "inspect", slot.name).returncode == 0:
        left.append(f"context {slot.name}")
    if slot.home.exists():
        left.append(f"folder {slot.home}")
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if str(slot.home) in line.split()[4]]
    left += [f"mount {point}" for point in mounts]
    left += [f"cgroup {path}" for path in Path("/sys/fs/cgroup").glob(f"*/{slot.name}")]
    left += [f"cgroup {path}" for path in Path("/sys/fs/cgroup").glob(slot.name)]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and running(int(entry.name)):
            try:
                argv = argv_of(int(entry.name))
            except OSError:
                continue
            if any(str(slot.home) in arg for arg in argv[1:]):
                left.append(f"process {entry.name} {Path(argv[0]).name}")
    return left


def session_in_child(logs: Path) -> tuple[subprocess.Popen[str], SecondEngine]:
    """A child process running `running_engine`, and the record it printed once up."""
    child = subprocess.Popen([sys.executable, "-c", SESSION, str(logs)], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)},
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.wait(10)
        pytest.fail(f"the child session did not start an engine: {child.stderr.read()[-3000:]}"
                    if child.stderr else "the child session did not start an engine")
    record = json.loads(line)
    engine = SecondEngine(**{**record, "socket": Path(record["socket"]),
                             "data_root": Path(record["data_root"]),
                             "exec_root": Path(record["exec_root"]),
                             "log": Path(record["log"])})
    return child, engine


def watchdog_of(session: int) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = argv_of(int(entry.name))
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == session and "watch" in argv:
            return int(entry.name)
    raise AssertionError(f"session {session} has no watchdog")


def tidy(child: subprocess.Popen[str], slot: Slot) -> None:
    """Whatever a failed test left: the child session ended, its slot swept."""
    if child.poll() is None:
        child.kill()
    child.wait(10)
    claim = claim_slot(slot.number, wait=60)  # once the child's watchdog is done
    try:
        sweep(slot)
    finally:
        claim.release()


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid), f"{pid} survived SIGKILL"


@pytest.fixture
def host_can_run_one() -> None:
    require(problem())


def test_it_answers_through_its_context_with_its_own_daemon_and_containerd(
        second_engine: SecondEngine) -> None:
    version = second_engine.docker("version", "--format", "{{.Server.Version}}")
    assert version.returncode == 0, version.stderr
    endpoint = docker("context", "inspect", second_engine.context,
                      "--format", "{{.Endpoints.docker.Host}}")
    assert endpoint.stdout.strip() == second_engine.host
    ours = json.loads(second_engine.docker("info", "--format", "{{json .}}").stdout)
    host = json.loads(on_default("info", "--format", "{{json .}}").stdout)
    assert ours["DockerRootDir"] == str(second_engine.data_root)
    assert host["DockerRootDir"] != ours["DockerRootDir"]
    assert host["ID"] != ours["ID"]
    argv = argv_of(second_engine.pid)
    assert Path(argv[0]).name == "dockerd"
    assert argv[argv.index("--data-root") + 1] == str(second_engine.data_root)
    containerds = [argv_of(int(p.parent.name)) for p in Path("/proc").glob("[0-9]*/stat")
                   if p.read_text().rsplit(")", 1)[1].split()[1] == str(second_engine.pid)
                   and Path(argv_of(int(p.parent.name))[0]).name == "containerd"]
    assert containerds, "its dockerd runs no containerd of its own"
    assert str(second_engine.exec_root) in containerds[0][containerds[0].index("--config") + 1]


def test_its_image_store_is_separate_from_the_default_engines(
        second_engine: SecondEngine, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:12]
    tags = {"default": f"xbuild-e2test/only-default:{run}",
            "second": f"xbuild-e2test/only-second:{run}"}
    for name in tags:
        (tmp_path / name).mkdir()
        (tmp_path / name / "marker").write_text(f"built on the {name} engine, {run}\n")
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\nCOPY marker /marker\n")
    try:
        built = on_default("buildx", "build", "--load", "-t", tags["default"],
                           str(tmp_path / "default"))
        assert built.returncode == 0, built.stderr
        built = second_engine.docker("buildx", "build", "--load", "-t", tags["second"],
                                     str(tmp_path / "second"))
        assert built.returncode == 0, built.stderr
        assert on_default("image", "inspect", tags["default"]).returncode == 0
        assert second_engine.docker("image", "inspect", tags["second"]).returncode == 0
        absent = second_engine.docker("image", "inspect", tags["default"])
        assert absent.returncode != 0
        assert "No such image" in absent.stderr
        absent = on_default("image", "inspect", tags["second"])
        assert absent.returncode != 0
        assert "No such image" in absent.stderr
    finally:
        on_default("image", "rm", tags["default"])
        second_engine.docker("image", "rm", tags["second"])


def test_it_builds_arm64_under_qemu_and_pushes_to_the_local_registry(
        second_engine: SecondEngine, registry: LocalRegistry, busybox: dict[str, Path],
        tmp_path: Path) -> None:
    shutil.copy2(busybox["arm64"], tmp_path / "busybox")
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        "RUN arch > /arch\n")
    ref = f"{registry.address}/xbuild-e2test/arm64:{uuid.uuid4().hex[:12]}"
    built = second_engine.docker("buildx", "build", "--platform", "linux/arm64", "--push",
                                 "-t", ref, str(tmp_path))
    assert built.returncode == 0, built.stderr
    ran = second_engine.docker("run", "--rm", "--platform", "linux/arm64", ref, "cat", "/arch")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "aarch64"
    # The registry holds what the second engine pushed: its digest, arm64.
    image = json.loads(docker("buildx", "imagetools", "inspect", ref,
                              "--format", "{{json .Image}}").stdout)
    assert image["architecture"] == "arm64"
    manifest = json.loads(docker("buildx", "imagetools", "inspect", ref,
                                 "--format", "{{json .Manifest}}").stdout)
    repo_digests = json.loads(second_engine.docker(
        "image", "inspect", ref, "--format", "{{json .RepoDigests}}").stdout)
    assert f"{ref.rsplit(':', 1)[0]}@{manifest['digest']}" in repo_digests
    assert on_default("image", "inspect", ref).returncode != 0  # not built on the host's engine


def test_it_pulls_by_digest_a_parent_the_default_engine_pushed(
        second_engine: SecondEngine, registry: LocalRegistry, busybox: dict[str, Path],
        tmp_path: Path) -> None:
    """What pinning a parent across nodes needs: the second engine resolves FROM name@digest
    in the local registry, for an image its own store never held."""
    run = uuid.uuid4().hex[:12]
    parent, child = tmp_path / "parent", tmp_path / "child"
    parent.mkdir()
    child.mkdir()
    shutil.copy2(busybox["amd64"], parent / "busybox")
    (parent / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {run} > /parent"]\n')
    name = f"{registry.address}/xbuild-e2test/parent"
    pushed = on_default("buildx", "build", "--platform", "linux/amd64", "--push",
                        "-t", f"{name}:{run}", str(parent))
    assert pushed.returncode == 0, pushed.stderr
    try:
        digest = json.loads(docker("buildx", "imagetools", "inspect", f"{name}:{run}",
                                   "--format", "{{json .Manifest}}").stdout)["digest"]
        assert second_engine.docker("image", "inspect", f"{name}@{digest}").returncode != 0
        (child / "Dockerfile").write_text(
            f"FROM {name}@{digest}\n"
            'RUN ["/bin/busybox", "sh", "-c", "cp /parent /child"]\n')
        built = second_engine.docker("buildx", "build", "--platform", "linux/amd64", "--load",
                                     "-t", f"xbuild-e2test/child:{run}", str(child))
        assert built.returncode == 0, built.stderr
        ran = second_engine.docker("run", "--rm", f"xbuild-e2test/child:{run}",
                                   "/bin/busybox", "cat", "/child")
        assert ran.stdout.strip() == run, ran.stderr
    finally:
        on_default("image", "rm", f"{name}:{run}")


def test_a_session_killed_with_sigkill_leaves_nothing_behind(
        host_can_run_one: None, tmp_path: Path) -> None:
    child, engine = session_in_child(tmp_path)
    slot = Slot(engine.slot)
    try:
        assert engine.docker("version").returncode == 0
        assert remains(slot, engine.pid), "the engine left no trace while running"
        kill(child.pid)  # its watchdog, in a session of its own, sweeps the slot
        deadline = time.monotonic() + 60
        while remains(slot, engine.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        watchdog = (tmp_path / "watchdog.log").read_text()
        assert remains(slot, engine.pid) == [], watchdog
        assert f"stopped dockerd {engine.pid} (SIGTERM)" in watchdog
        assert default_answers()
    finally:
        tidy(child, slot)


def test_a_start_sweeps_what_a_session_killed_with_its_watchdog_and_dockerd_left(
        host_can_run_one: None, busybox: dict[str, Path], tmp_path: Path) -> None:
    """The worst leftover: everything SIGKILLed but a running container (its shim, process,
    mounts, network namespace and cgroup). The next start on the slot removes it all, and
    its own stop leaves nothing either."""
    child, old = session_in_child(tmp_path / "killed")
    slot = Slot(old.slot)
    try:
        (tmp_path / "image").mkdir()
        shutil.copy2(busybox["amd64"], tmp_path / "image" / "busybox")
        (tmp_path / "image" / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
        tag = f"xbuild-e2test/sleeper:{uuid.uuid4().hex[:12]}"
        built = old.docker("buildx", "build", "--load", "-t", tag, str(tmp_path / "image"))
        assert built.returncode == 0, built.stderr
        sleeper = old.docker("run", "-d", tag, "/bin/busybox", "sleep", "600")
        assert sleeper.returncode == 0, sleeper.stderr
        kill(watchdog_of(child.pid))
        kill(child.pid)
        child.wait(10)
        kill(old.pid)
        left = remains(slot, old.pid)
        for what in (f"bridge {slot.bridge}", f"context {slot.name}", f"folder {slot.home}"):
            assert what in left
        assert any(w.startswith("process") and "containerd-shim" in w for w in left), left
        assert any(w.startswith("mount") for w in left), left
        assert any(w.startswith("cgroup") for w in left), left
        with running_engine(tmp_path / "next", number=slot.number) as engine:
            version = engine.docker("version", "--format", "{{.Server.Version}}")
            assert version.returncode == 0, version.stderr
            assert engine.docker("ps", "--all", "--quiet").stdout == ""
            sweeps = (tmp_path / "next" / "sweeps.log").read_text()
            assert "killed containerd-shim-runc-v2" in sweeps
            assert f"in cgroup {slot.name}" in sweeps
            assert "unmounted" in sweeps
        assert remains(slot, engine.pid) == []
        assert default_answers()
    finally:
        tidy(child, slot)
