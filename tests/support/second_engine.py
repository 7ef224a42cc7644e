"""A second Docker engine on this host: a second node for tests that route builds.

It runs beside the host's engine with everything of its own: data-root, exec-root (hence its
own managed containerd, whose socket and state live there), pidfile, socket, bridge, cgroup
parent, address pool and an empty daemon.json (the host's /etc/docker/daemon.json is not
read). The host's engine is never touched. Tests reach it through a docker context of its own
name, as they would reach a remote node: `docker --context NAME ...`, builds included
(`docker --context NAME buildx build ...`, or DOCKER_CONTEXT=NAME). buildx 0.13 lists the
context as a builder named NAME, but refuses `docker buildx build --builder NAME` from another
context ("use `docker --context=NAME buildx` to switch to context").

**Slots.** Sessions may run at once on one host (worktrees, CI jobs). An engine takes a slot
N in 0..SLOTS-1 by holding an exclusive flock on ROOT/slot-N.lock; the session and its
watchdog share that lock. So whatever a slot holds when its lock can be taken was left by a
dead session, and is swept before the slot's engine starts.

**Never left running.** The session holds the write end of a pipe, and a watchdog process in
its own session waits on the read end. A normal stop writes ``done`` into it. If the session
dies instead (SIGKILL, crash), the watchdog reads EOF without ``done`` and sweeps the slot
itself. If the watchdog was killed too, the next start on the slot sweeps first.

Slot N: context and cgroup parent ``xbuild-engine2-N``, bridge ``xb2eN`` with 10.213.N.1/24,
user-defined networks from 10.214.(16N).0/20 in /24s; files under ROOT/slot-N, wiped at every
start and stop. The dockerd log, sweep notes and the watchdog's output stay in the caller's
log folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine import require

ROOT = Path("/var/lib/xbuild-engine2")
SLOTS = 8
START_DEADLINE = 60.0  # seconds for dockerd to answer through its context
STOP_GRACE = 20.0  # seconds between SIGTERM and SIGKILL
REPO = Path(__file__).resolve().parents[2]
# Processes that belong to a slot when their command line names its folder.
DAEMONS = frozenset({"dockerd", "containerd", "containerd-shim-runc-v2", "runc",
                     "docker-proxy"})
DONE = b"done"


class EngineDidNotStart(Exception):
    """The second engine did not come up; the message ends with its log's tail."""


@dataclass(frozen=True)
class Slot:
    number: int

    @property
    def name(self) -> str:
        """The docker context name, buildx builder name and cgroup parent."""
        return f"xbuild-engine2-{self.number}"

    @property
    def bridge(self) -> str:
        return f"xb2e{self.number}"  # interface names have at most 15 characters

    @property
    def bridge_address(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"10.213.{self.number}.1/24")

    @property
    def address_pool(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.214.{16 * self.number}.0/20")

    @property
    def home(self) -> Path:
        return ROOT / f"slot-{self.number}"

    @property
    def data_root(self) -> Path:
        return self.home / "data"

    @property
    def exec_root(self) -> Path:
        return self.home / "exec"

    @property
    def socket(self) -> Path:
        return self.home / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.home / "dockerd.pid"

    @property
    def config_file(self) -> Path:
        return self.home / "daemon.json"

    @property
    def lock_file(self) -> Path:
        return ROOT / f"slot-{self.number}.lock"  # outside home: it outlives every sweep


@dataclass(frozen=True)
class SecondEngine:
    """A running second engine, as the `second_engine` fixture yields it."""

    context: str  # docker context name (buildx lists it as a builder of that name)
    slot: int
    socket: Path
    pid: int  # of its dockerd
    data_root: Path
    exec_root: Path
    bridge: str
    log: Path  # dockerd's output

    @property
    def host(self) -> str:
        """For DOCKER_HOST or `docker context create --docker host=...`."""
        return f"unix://{self.socket}"

    def docker(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this engine, through its context."""
        return subprocess.run(["docker", "--context", self.context, *args],
                              capture_output=True, text=True, check=False, timeout=timeout)


def dockerd_command(slot: Slot) -> list[str]:
    return ["dockerd",
            "--config-file", str(slot.config_file),
            "--data-root", str(slot.data_root),
            "--exec-root", str(slot.exec_root),
            "--pidfile", str(slot.pidfile),
            "--host", f"unix://{slot.socket}",
            "--bridge", slot.bridge,
            "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--cgroup-parent", slot.name,
            "--default-address-pool", f"base={slot.address_pool},size=24",
            "--shutdown-timeout", "5"]  # containers left running stop fast


def problem() -> str | None:
    """What this host lacks to run a second engine, or None."""
    if not sys.platform.startswith("linux"):
        return "a second Docker engine needs Linux"
    if os.geteuid() != 0:
        return "a second Docker engine needs root (it makes a bridge and runs dockerd)"
    for tool in ("dockerd", "docker", "ip", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is missing, which a second Docker engine needs (ci/host-setup.sh)"
    return None


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False,
                          timeout=timeout)


def _must(*argv: str, timeout: float = 60) -> str:
    done = _run(*argv, timeout=timeout)
    if done.returncode != 0:
        raise EngineDidNotStart(f"`{' '.join(argv)}` failed: "
                                f"{(done.stderr or done.stdout).strip()}")
    return done.stdout


def tail(log: Path, lines: int = 25) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError as error:
        return f"(no log: {error})"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"


# --- slots -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A slot held under its flock by this process (and its watchdog) until released."""

    slot: Slot
    fd: int

    def release(self) -> None:
        os.close(self.fd)


def claim_slot(number: int | None = None, wait: float = 15.0) -> Claim:
    """The first free slot, or slot `number` (waiting up to `wait` s for a dying holder)."""
    ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    numbers = range(SLOTS) if number is None else [number]
    deadline = time.monotonic() + (wait if number is not None else 0)
    while True:
        for n in numbers:
            slot = Slot(n)
            fd = os.open(slot.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Claim(slot, fd)
        if time.monotonic() >= deadline:
            which = f"slot {number}" if number is not None else f"all {SLOTS} slots"
            raise EngineDidNotStart(f"{which} under {ROOT} held by live sessions")
        time.sleep(0.2)


# --- processes ---------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: this host's init may be slow to reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _names_home(argv: list[str], slot: Slot) -> bool:
    home = str(slot.home)
    return any(arg == home or home + "/" in arg for arg in argv[1:])


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _terminate(pid: int, grace: float = STOP_GRACE) -> str:
    _signal(pid, signal.SIGTERM)
    if not _wait_gone([pid], grace):
        return "SIGTERM"
    _signal(pid, signal.SIGKILL)
    _wait_gone([pid], 10)
    return f"SIGKILL after {grace:.0f} s"


def _daemons_of(slot: Slot) -> list[int]:
    """dockerd, containerd and shims whose command line names the slot's folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        argv = _argv(int(entry.name))
        if argv and Path(argv[0]).name in DAEMONS and _names_home(argv, slot):
            found.append(int(entry.name))
    return found


# --- host state: cgroups, mounts, bridge, context ----------------------------------------

def _mountinfo() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount this process sees, in mount order."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields.split()[4])
        mounts.append((point, rest.split()[0] if rest else ""))
    return mounts


def _cgroup_dirs(slot: Slot) -> list[Path]:
    """The slot's cgroup parent in every cgroup hierarchy (v1 or v2) that has it."""
    points = {point for point, kind in _mountinfo() if kind in {"cgroup", "cgroup2"}}
    return [Path(point) / slot.name for point in sorted(points)
            if (Path(point) / slot.name).is_dir()]


def _cgroup_pids(roots: list[Path]) -> list[int]:
    pids: set[int] = set()
    for root in roots:
        for procs in root.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


def _mounts_under(home: Path) -> list[str]:
    prefix = str(home) + "/"
    points = [p for p, _ in _mountinfo() if p == str(home) or p.startswith(prefix)]
    return sorted(set(points), key=lambda p: (p.count("/"), p), reverse=True)


def _docker_config() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _end_processes(slot: Slot) -> list[str]:
    """Its dockerd (SIGTERM first: it stops its containers), then any daemon naming its
    folder, then whatever is left in its cgroups (containers, build steps)."""
    notes = []
    try:
        pid: int | None = int(slot.pidfile.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and _alive(pid) and _names_home(_argv(pid), slot):
        notes.append(f"stopped dockerd {pid} ({_terminate(pid)})")
    for daemon in _daemons_of(slot):
        name = Path((_argv(daemon) or ["?"])[0]).name
        _signal(daemon, signal.SIGKILL)
        notes.append(f"killed {name} {daemon}")
    cgroups = _cgroup_dirs(slot)
    deadline = time.monotonic() + 10
    while (members := _cgroup_pids(cgroups)) and time.monotonic() < deadline:
        for member in members:
            _signal(member, signal.SIGKILL)
        notes.append(f"killed {len(members)} process(es) in cgroup {slot.name}")
        _wait_gone(members, 2)
    return notes


def _remove_cgroups(slot: Slot) -> list[str]:
    notes = []
    for root in _cgroup_dirs(slot):
        below = sorted((p for p in root.rglob("*") if p.is_dir()),
                       key=lambda p: len(p.parts), reverse=True)
        for folder in [*below, root]:
            with contextlib.suppress(OSError):
                folder.rmdir()
        notes.append(f"could not remove cgroup {root}" if root.exists()
                     else f"removed cgroup {root}")
    return notes


def _remove_host_objects(slot: Slot) -> list[str]:
    """Its bridge, its docker context and what buildx keeps under the context's name."""
    notes = []
    if _run("ip", "link", "show", "dev", slot.bridge).returncode == 0:
        done = _run("ip", "link", "delete", "dev", slot.bridge)
        notes.append(f"deleted bridge {slot.bridge}" if done.returncode == 0
                     else f"could not delete bridge {slot.bridge}: {done.stderr.strip()}")
    if _run("docker", "context", "inspect", slot.name).returncode == 0:
        done = _run("docker", "context", "rm", "--force", slot.name)
        notes.append(f"removed docker context {slot.name}" if done.returncode == 0
                     else f"could not remove context {slot.name}: {done.stderr.strip()}")
    for state in ("activity", "refs"):
        path = _docker_config() / "buildx" / state / slot.name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return notes


def sweep(slot: Slot) -> list[str]:
    """Remove all a slot's engine may have left: processes, containers and build steps (by
    cgroup), mounts, cgroups, bridge, context, buildx state and files. Returns one line per
    thing removed; raises if the slot's folder cannot be removed."""
    notes = _end_processes(slot)
    for point in _mounts_under(slot.home):
        done = _run("umount", "--lazy", point)
        notes.append(f"unmounted {point}" if done.returncode == 0
                     else f"could not unmount {point}: {done.stderr.strip()}")
    notes += _remove_cgroups(slot) + _remove_host_objects(slot)
    if slot.home.exists():
        shutil.rmtree(slot.home)  # raises if a mount or a process still holds it
        notes.append(f"removed {slot.home}")
    return notes


def _subnet_clash(slot: Slot) -> str | None:
    """A host route overlapping the slot's bridge subnet or address pool, if any."""
    routes = json.loads(_must("ip", "-json", "-4", "route", "show", "table", "all") or "[]")
    ours = (slot.bridge_address.network, slot.address_pool)
    for route in routes:
        dst = route.get("dst", "")
        if dst in {"", "default"} or route.get("dev") == slot.bridge:
            continue
        with contextlib.suppress(ValueError):
            network = ipaddress.IPv4Network(dst, strict=False)
            for mine in ours:
                if network.overlaps(mine):
                    return f"host route {dst} (dev {route.get('dev')}) overlaps {mine}"
    return None


# --- start and stop ----------------------------------------------------------------------

def start(slot: Slot, logs: Path) -> tuple[SecondEngine, subprocess.Popen[bytes]]:
    """Start the slot's engine (swept beforehand) and wait until it builds, or raise
    EngineDidNotStart with the log's tail (the caller sweeps what was made)."""
    clash = _subnet_clash(slot)
    if clash:
        raise EngineDidNotStart(f"{clash}: slot {slot.number} cannot make its bridge")
    slot.home.mkdir(mode=0o700, parents=True)
    slot.config_file.write_text("{}\n")  # not the host engine's /etc/docker/daemon.json
    _must("ip", "link", "add", "name", slot.bridge, "type", "bridge")
    _must("ip", "address", "add", str(slot.bridge_address), "dev", slot.bridge)
    _must("ip", "link", "set", "dev", slot.bridge, "up")
    _must("docker", "context", "create", slot.name, "--description",
          f"xbuild tests: second engine, slot {slot.number}",
          "--docker", f"host=unix://{slot.socket}")
    log = logs / "dockerd.log"
    with log.open("ab") as out:
        process = subprocess.Popen(dockerd_command(slot), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    engine = SecondEngine(context=slot.name, slot=slot.number, socket=slot.socket, pid=process.pid,
                          data_root=slot.data_root, exec_root=slot.exec_root,
                          bridge=slot.bridge, log=log)
    try:
        _wait_until_it_answers(engine, process)
        _check_buildx(engine, logs)
    except BaseException:
        stop_process(process)
        raise
    return engine, process


def _wait_until_it_answers(engine: SecondEngine, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineDidNotStart(f"dockerd exited with {process.returncode}; "
                                    f"its log ({engine.log}) ends:\n{tail(engine.log)}")
        with contextlib.suppress(subprocess.TimeoutExpired):
            probe = engine.docker("version", "--format", "{{.Server.Version}}", timeout=10)
            if probe.returncode == 0:
                return
            last = probe.stderr.strip()
        time.sleep(0.1)
    raise EngineDidNotStart(f"dockerd did not answer through context {engine.context} within "
                            f"{START_DEADLINE:.0f} s ({last}); its log ({engine.log}) ends:\n"
                            f"{tail(engine.log)}")


def _check_buildx(engine: SecondEngine, logs: Path) -> None:
    """buildx answers through the context, and a tiny build runs there."""
    for argv in (["docker", "--context", engine.context, "buildx", "version"],
                 ["docker", "--context", engine.context, "buildx", "build", "--builder",
                  engine.context, "--output", "type=cacheonly", str(_probe_context(logs))]):
        done = _run(*argv, timeout=120)
        if done.returncode != 0:
            raise EngineDidNotStart(f"`{' '.join(argv)}` failed: {done.stderr.strip()[-2000:]}"
                                    f"\nthe dockerd log ({engine.log}) ends:\n{tail(engine.log)}")


def _probe_context(logs: Path) -> Path:
    folder = logs / "probe"
    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY probe /probe\n")
    (folder / "probe").write_text("second engine\n")
    return folder


def stop_process(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM, then SIGKILL after STOP_GRACE; returns which one ended it."""
    if process.poll() is not None:
        return f"had exited ({process.returncode})"
    process.terminate()
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return f"SIGKILL after {STOP_GRACE:.0f} s"
    return "SIGTERM"


class Watchdog:
    """A process in its own session that sweeps the slot if this process dies first."""

    def __init__(self, claim: Claim, logs: Path) -> None:
        read_end, self._write_end = os.pipe()
        with (logs / "watchdog.log").open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.second_engine", "watch",
                 str(claim.slot.number), str(read_end)],
                pass_fds=(read_end, claim.fd), cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(read_end)

    @property
    def pid(self) -> int:
        return self._process.pid

    def stand_down(self, *, swept: bool) -> None:
        """Tell the watchdog the slot is clean (it exits), or not (it sweeps again)."""
        with contextlib.suppress(OSError):
            if swept:
                os.write(self._write_end, DONE)
        os.close(self._write_end)
        if swept:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(30)


def _note(logs: Path, title: str, lines: list[str]) -> None:
    with (logs / "sweeps.log").open("a") as out:
        out.write(f"{time.strftime('%H:%M:%S')} {title}: "
                  f"{'; '.join(lines) if lines else 'nothing to remove'}\n")


@contextlib.contextmanager
def running_engine(logs: Path, number: int | None = None) -> Iterator[SecondEngine]:
    """A second engine for the `with` block: a slot claimed, its leftovers swept, dockerd
    started and checked; at exit (also on errors) stopped and swept. Raises
    EngineDidNotStart (its message ends with the dockerd log's tail)."""
    logs.mkdir(parents=True, exist_ok=True)
    claim = claim_slot(number)
    watchdog: Watchdog | None = None
    process: subprocess.Popen[bytes] | None = None
    swept = False
    try:
        watchdog = Watchdog(claim, logs)
        _note(logs, f"before start, slot {claim.slot.number}", sweep(claim.slot))
        engine, process = start(claim.slot, logs)
        yield engine
    finally:
        try:
            if process is not None:
                _note(logs, "dockerd stopped", [stop_process(process)])
            _note(logs, f"after stop, slot {claim.slot.number}", sweep(claim.slot))
            swept = True
        finally:
            if watchdog is not None:
                watchdog.stand_down(swept=swept)
            claim.release()


@pytest.fixture(scope="session")
def second_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondEngine]:
    """A second Docker engine for the session, reached through its context (see module doc).

    Skips when the host cannot run one; under CI (any true value) fails instead, with the
    dockerd log's tail in the message.
    """
    require(problem())
    logs = tmp_path_factory.mktemp("second-engine")
    with contextlib.ExitStack() as stack:
        try:
            engine = stack.enter_context(running_engine(logs))
        except EngineDidNotStart as error:
            require(f"a second Docker engine: {error}")
            raise
        yield engine


def _watch(number: int, read_end: int) -> int:
    """The watchdog: wait for EOF; unless the session said it swept, sweep the slot."""
    received = b""
    while chunk := os.read(read_end, 64):
        received += chunk
    if received == DONE:
        return 0
    print(f"{time.strftime('%H:%M:%S')} the session ended without stopping slot {number}: "
          "sweeping", flush=True)
    for line in sweep(Slot(number)):
        print(f"  {line}", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "watch":
        sys.exit(_watch(int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(f"usage: python -m tests.support.second_engine watch SLOT FD (got {sys.argv[1:]})")
