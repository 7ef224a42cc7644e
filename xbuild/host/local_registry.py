"""A local registry on 127.0.0.1 for a fresh machine's main job: Debian's docker-registry.

Its data, configuration, log and pid live under the xbuild cache folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from xbuild.core.errors import EnvironmentProblem
from xbuild.host.cmd import Background, Shell
from xbuild.host.paths import cache_dir

BINARY = "docker-registry"
_CONFIG = """version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {data}}}
  delete: {{enabled: true}}
http: {{addr: "127.0.0.1:{port}"}}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRegistry:
    port: int = 5000
    home: Path = field(default_factory=lambda: cache_dir() / "registry")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / f"registry-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"registry-{self.port}.log"

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def pid(self) -> int | None:
        """The pid of the registry xbuild started, if that very process still runs.

        Pids are reused, so the process must still be docker-registry serving our config.
        """
        try:
            pid = int(self.pid_file.read_text())
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        ours = argv[0].endswith(BINARY.encode()) and str(self.config).encode() in argv
        return pid if ours else None

    @property
    def config(self) -> Path:
        return self.home / f"config-{self.port}.yml"

    def start(self, shell: Shell | None = None) -> str:
        if self.answers():
            return f"a registry already answers on {self.address}"
        binary = shutil.which(BINARY)
        if binary is None:
            raise EnvironmentProblem(f"{BINARY} is missing: install Debian's docker-registry "
                                     "(ci/host-setup.sh does)")
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.config.write_text(_CONFIG.format(data=data, port=self.port))
        process = (shell or Shell()).spawn([binary, "serve", str(self.config)],
                                           output=self.log_file)
        self.pid_file.write_text(str(process.pid))
        self._wait_until_up(process)
        return f"registry started on {self.address} (data: {data}, log: {self.log_file})"

    def _wait_until_up(self, process: Background) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.answers():
                return
            if not process.alive():
                break
            time.sleep(0.2)
        process.terminate()
        self.pid_file.unlink(missing_ok=True)
        tail = self.log_file.read_text(errors="replace").strip().splitlines()[-1:]
        raise EnvironmentProblem(f"the registry on {self.address} did not come up: "
                                 f"{tail[0] if tail else 'no output'} (log: {self.log_file})")

    def stop(self) -> str:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)  # stale: its process is gone or not ours
            return f"no registry started by xbuild on {self.address}"
        os.kill(pid, signal.SIGTERM)
        self.pid_file.unlink(missing_ok=True)
        return f"registry on {self.address} stopped (pid {pid})"

    def status(self) -> str:
        state = "up" if self.answers() else "down"
        pid = self.pid()
        owner = f", pid {pid}" if pid else ""
        return f"registry {self.address}: {state}{owner} (data: {self.home / 'data'})"
