"""`--locked` (README, Downloads): a download that matrix.yml does not pin and no lock lists
stops build, all, plan and fetch with exit 2 before anything is fetched, read or built; a
loopback server, which is also the namespace's registry, counts every request. Without
--locked the download is trusted on first use, with a warning that the lock changed, and
`fetch --update-lock` is how a changed file is accepted."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.run import Cli, xbuild

pytestmark = pytest.mark.integration
PINNED = b"pinned file\n"
LOOSE = b"first version\n"


@dataclass
class Files:
    """What the server serves (path -> bytes) and every path it was asked for."""

    served: dict[str, bytes]
    asked: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Files]]:
    files = Files(served={"/files/pinned.txt": PINNED, "/files/loose.txt": LOOSE})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files.asked.append(self.path)
            body = files.served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", files
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def matrix(tmp_path: Path, server: tuple[str, Files]) -> Path:
    address, _ = server
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM scratch\n")
    path = tmp_path / "matrix.yml"
    path.write_text(yaml.safe_dump({
        "namespace": f"{address}/ns", "tag": "latest", "architectures": ["amd64"],
        "images": {"app": {"context": "app", "downloads": {
            "pinned.txt": {"url": f"http://{address}/files/pinned.txt",
                           "sha256": hashlib.sha256(PINNED).hexdigest()},
            "loose.txt": f"http://{address}/files/loose.txt"}}}}))
    return path


def run(matrix: Path, *args: str, cache: str = "cache") -> Cli:
    return xbuild(*args, "-f", matrix, cwd=matrix.parent,
                  env={"XDG_CACHE_HOME": str(matrix.parent / cache)})


@pytest.mark.parametrize("command", [
    pytest.param(("build", "--push", "--locked", "--log-dir", "runs", "app"), id="build"),
    pytest.param(("all", "--push", "--locked", "--log-dir", "runs"), id="all"),
    pytest.param(("plan", "--resolve", "--locked"), id="plan-resolve"),
    pytest.param(("fetch", "--locked"), id="fetch"),
])
def test_locked_refuses_an_unpinned_download_before_anything(
        matrix: Path, server: tuple[str, Files], command: tuple[str, ...]) -> None:
    address, files = server
    done = run(matrix, *command)
    assert done.exit_code == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"xbuild: error: {matrix}: images.app.downloads.loose.txt: http://{address}/files/"
        f"loose.txt is not pinned: no sha256 there and no line in "
        f"{matrix.parent / 'app' / 'downloads.lock'} (--locked)"]
    assert files.asked == []  # no download, and no registry read either
    assert not (matrix.parent / "runs").exists()  # no run was started
    assert not (matrix.parent / "app" / "downloads.lock").exists()


def test_without_locked_the_first_fetch_records_the_lock_and_warns(
        matrix: Path, server: tuple[str, Files]) -> None:
    address, files = server
    lock = matrix.parent / "app" / "downloads.lock"
    first = run(matrix, "fetch")
    assert first.exit_code == 0, first.stderr
    assert sorted(files.asked) == ["/files/loose.txt", "/files/pinned.txt"]
    assert f"{lock} changed" in first.stderr
    loose_line = f"{hashlib.sha256(LOOSE).hexdigest()}  http://{address}/files/loose.txt"
    assert loose_line in lock.read_text().splitlines()
    assert "pinned.txt" not in lock.read_text()  # matrix.yml pins it: the lock need not

    locked = run(matrix, "plan", "--locked")
    assert locked.exit_code == 0, locked.stderr  # now every download is pinned or locked

    files.served["/files/loose.txt"] = b"second version\n"
    changed = run(matrix, "fetch", cache="empty-cache")  # else the locked file is in hand
    assert changed.exit_code == 5, changed.stderr  # the lock holds: the new file is refused
    assert "loose.txt: checksum mismatch" in changed.stderr
    assert loose_line in lock.read_text().splitlines()

    updated = run(matrix, "fetch", "--update-lock")
    assert updated.exit_code == 0, updated.stderr
    assert f"{hashlib.sha256(b'second version' + bytes([10])).hexdigest()}  " \
           f"http://{address}/files/loose.txt" in lock.read_text().splitlines()
    assert "warning" not in updated.stderr.lower()
