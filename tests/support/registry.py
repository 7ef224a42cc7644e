"""A throwaway Docker registry (Debian's ``docker-registry``, distribution 2.8) on loopback."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BINARY = "docker-registry"
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 30

CONFIG_TEMPLATE = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {rootdirectory}
  delete:
    enabled: true
http:
  addr: {addr}
  secret: {secret}
"""


@dataclass(frozen=True)
class Registry:
    """A running registry: ``host`` is "127.0.0.1:<port>", ``url`` is "http://<host>"."""

    host: str
    url: str
    log_path: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, or a note that there is none."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return f"(no log at {log_path})"
    return "\n".join(text.splitlines()[-lines:])


def write_config(config_path: Path, data_dir: Path, host: str) -> None:
    config = CONFIG_TEMPLATE.format(rootdirectory=data_dir, addr=host, secret=secrets.token_hex(16))
    config_path.write_text(config)


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(proc: subprocess.Popen[bytes], registry: Registry, timeout: float) -> None:
    """Poll GET /v2/ until it answers 200; raise RuntimeError with the log tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{REGISTRY_BINARY} on {registry.host} exited with {proc.returncode} "
                f"before answering; log tail:\n{log_tail(registry.log_path)}"
            )
        if _answers_200(f"{registry.url}/v2/"):
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"{REGISTRY_BINARY} on {registry.host} did not answer GET /v2/ with 200 within "
        f"{timeout:.0f} s; log tail:\n{log_tail(registry.log_path)}"
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, killing it when it does not stop in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PortTakenError(RuntimeError):
    """The registry exited at startup because its port was taken meanwhile."""


def start_registry(data_dir: Path, timeout: float) -> tuple[subprocess.Popen[bytes], Registry]:
    """Start one registry on a free port and wait until it is ready."""
    host = f"127.0.0.1:{free_port()}"
    registry = Registry(host=host, url=f"http://{host}", log_path=data_dir / "registry.log")
    config_path = data_dir / "config.yml"
    write_config(config_path, data_dir, host)
    with registry.log_path.open("ab") as log:
        proc = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(proc, registry, timeout)
    except RuntimeError as error:
        stop_process(proc)
        if "address already in use" in str(error):
            raise PortTakenError(str(error)) from error
        raise
    return proc, registry


@contextlib.contextmanager
def local_registry(data_dir: Path, timeout: float = STARTUP_TIMEOUT) -> Iterator[Registry]:
    """Run ``docker-registry serve`` on 127.0.0.1:<free port> with storage in ``data_dir``.

    ``data_dir`` is the filesystem driver's rootdirectory (blobs land under
    ``docker/registry/v2``); config.yml and registry.log are written next to them.
    The registry is terminated when the context exits.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            proc, registry = start_registry(data_dir, timeout)
            break
        except PortTakenError:
            if attempt == 2:
                raise
    try:
        yield registry
    finally:
        stop_process(proc)
