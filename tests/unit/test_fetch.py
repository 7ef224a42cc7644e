"""Downloads against a real HTTP server on 127.0.0.1: checksums, mirror, cache, failures."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.engine import free_port
from xbuild.core.downloads import (
    LOCK_NAME,
    Need,
    Source,
    mirror_path,
    read_lock,
    redirect_problem,
)
from xbuild.core.errors import DownloadError
from xbuild.engine.retry import RetryPolicy
from xbuild.host.downloader import Downloader, stage_files
from xbuild.host.staging import stage_downloads, write_mirror

ZIP = b"PK\x03\x04 not really a zip, but bytes with a known checksum\n" * 100
ZIP_SHA = hashlib.sha256(ZIP).hexdigest()
FAST = RetryPolicy(attempts=3, first_wait=0.001, max_wait=0.002)


@dataclass
class Site:
    """What the loopback server answers: path -> (status, body, content type)."""

    port: int
    pages: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    failures_left: dict[str, int] = field(default_factory=dict)  # path -> 503s before success
    moved: dict[str, str] = field(default_factory=dict)  # path -> where a 302 sends it
    drips: set[str] = field(default_factory=set)  # paths served a byte every 0.2 s, no length

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes, kind: str = "application/zip") -> str:
        self.pages[path] = (200, body, kind)
        return self.url(path)


@pytest.fixture
def site() -> Iterator[Site]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = Site(port=server.server_address[1])
    server.site = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        site.hits[self.path] += 1
        if site.failures_left.get(self.path, 0) > 0:
            site.failures_left[self.path] -= 1
            self.send_error(503, "busy")
            return
        if self.path in site.moved:
            self.send_response(302)
            self.send_header("Location", site.moved[self.path])
            self.end_headers()
            return
        status, body, kind = site.pages.get(self.path, (404, b"no such file", "text/plain"))
        if self.path in site.drips:
            self._drip(body)
            return
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as the deadline test wants: nothing to print on stderr

    def log_message(self, *args: object) -> None:
        pass


def downloader(tmp_path: Path, mirror: str | None = None) -> Downloader:
    return Downloader(cache=tmp_path / "cache", mirror=mirror, retry=FAST, timeout=5)


def test_fetches_into_the_cache_under_its_checksum(site: Site, tmp_path: Path) -> None:
    url = site.serve("/dl/dcm4chee.zip", ZIP)
    fetched = downloader(tmp_path).download(Source(url=url, sha256=ZIP_SHA, pinned_in="matrix.yml"))
    assert fetched.path == tmp_path / "cache" / "downloads" / "sha256" / ZIP_SHA
    assert fetched.path.read_bytes() == ZIP
    assert (fetched.cached, fetched.first_seen) == (False, False)


def test_a_checksum_mismatch_fails_names_the_url_and_keeps_nothing(site: Site,
                                                                    tmp_path: Path) -> None:
    url = site.serve("/dl/dcm4chee.zip", ZIP + b"tampered")
    with pytest.raises(DownloadError) as caught:
        downloader(tmp_path).download(Source(url=url, sha256=ZIP_SHA, pinned_in="matrix.yml"))
    message = str(caught.value)
    assert message.startswith(f"{url}: checksum mismatch")
    assert ZIP_SHA in message and "matrix.yml" in message and "\n" not in message
    store = tmp_path / "cache" / "downloads" / "sha256"
    assert list(store.iterdir()) == []  # neither the bad file nor a partial one


def test_an_unreachable_host_fails_with_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/dl/dcm4chee.zip"  # nothing listens there
    retried: list[str] = []
    one = Downloader(cache=tmp_path, retry=FAST, timeout=5, on_retry=retried.append)
    with pytest.raises(DownloadError) as caught:
        one.download(Source(url=url, sha256=None))
    assert str(caught.value).startswith(f"{url}: unreachable")
    assert len(retried) == FAST.attempts - 1  # a refused connection may be a restart: retried


def test_a_missing_file_is_not_retried(site: Site, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        downloader(tmp_path).download(Source(url=site.url("/gone.zip"), sha256=None))
    assert site.hits["/gone.zip"] == 1


def test_a_busy_server_is_retried_until_it_answers(site: Site, tmp_path: Path) -> None:
    url = site.serve("/dl/busy.zip", ZIP)
    site.failures_left["/dl/busy.zip"] = 2
    fetched = downloader(tmp_path).download(Source(url=url, sha256=ZIP_SHA))
    assert fetched.sha256 == ZIP_SHA
    assert site.hits["/dl/busy.zip"] == 3


def test_an_html_landing_page_is_refused_rather_than_locked(site: Site, tmp_path: Path) -> None:
    url = site.serve("/project/files/a.zip/download", b"<html>your download will start",
                     kind="text/html; charset=utf-8")
    with pytest.raises(DownloadError, match="HTML page"):
        downloader(tmp_path).download(Source(url=url, sha256=None))


def test_the_mirror_is_asked_instead_of_the_original_host(site: Site, tmp_path: Path) -> None:
    original = "https://sourceforge.net/projects/dcm4che/files/dcm4chee-2.18.3-mysql.zip/download"
    site.serve("/mirror/" + str(mirror_path(original)), ZIP)
    fetched = downloader(tmp_path, mirror=site.url("/mirror/")).download(
        Source(url=original, sha256=ZIP_SHA))
    assert fetched.url == site.url("/mirror/sourceforge.net/projects/dcm4che/files/"
                                   "dcm4chee-2.18.3-mysql.zip/download")
    assert fetched.path.read_bytes() == ZIP


def test_a_mirror_lacking_the_file_names_the_mirror_url(site: Site, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        downloader(tmp_path, mirror=site.url("/mirror")).download(
            Source(url="https://example.org/a.zip", sha256=None))
    assert str(caught.value).startswith(site.url("/mirror/example.org/a.zip") + ": HTTP 404")


def test_a_cached_file_costs_no_request(site: Site, tmp_path: Path) -> None:
    url = site.serve("/dl/dcm4chee.zip", ZIP)
    source = Source(url=url, sha256=ZIP_SHA)
    downloader(tmp_path).download(source)
    again = downloader(tmp_path).download(source)
    assert again.cached
    assert site.hits["/dl/dcm4chee.zip"] == 1


def test_a_damaged_cache_entry_is_fetched_again(site: Site, tmp_path: Path) -> None:
    url = site.serve("/dl/dcm4chee.zip", ZIP)
    source = Source(url=url, sha256=ZIP_SHA)
    first = downloader(tmp_path).download(source)
    first.path.write_bytes(b"bit rot")
    again = downloader(tmp_path).download(source)
    assert not again.cached and again.path.read_bytes() == ZIP
    assert site.hits["/dl/dcm4chee.zip"] == 2


def test_a_file_url_mirror_serves_a_shared_folder(tmp_path: Path) -> None:
    original = "https://example.org/dist/diana.tar.gz"
    tree = tmp_path / "share"
    (tree / mirror_path(original)).parent.mkdir(parents=True)
    (tree / mirror_path(original)).write_bytes(ZIP)
    fetched = downloader(tmp_path, mirror=tree.as_uri()).download(Source(url=original, sha256=None))
    assert fetched.sha256 == ZIP_SHA and fetched.first_seen


def test_staging_names_each_file_as_the_dockerfile_copies_it(tmp_path: Path) -> None:
    cached = tmp_path / "blob"
    cached.write_bytes(ZIP)
    folder = stage_files([("dcm4chee.zip", cached), ("jboss.zip", cached)], tmp_path / "ctx")
    assert sorted(p.name for p in folder.iterdir()) == ["dcm4chee.zip", "jboss.zip"]
    assert (folder / "jboss.zip").read_bytes() == ZIP


# --- the run's download phase ------------------------------------------------------------

def need(url: str, recipe: Path, *users: tuple[str, str, str],
         sha256: str | None = None) -> Need:
    return Need(source=Source(url=url, sha256=sha256), lock_paths=(recipe / LOCK_NAME,),
                users=users)


def test_each_url_is_fetched_once_for_every_arch_that_uses_it(site: Site,
                                                              tmp_path: Path) -> None:
    url = site.serve("/dl/dcm4chee.zip", ZIP)
    wanted = [need(url, tmp_path, ("dcm4chee", "dcm4chee-amd64", "dcm4chee.zip"),
                   ("dcm4chee", "dcm4chee-arm64v8", "dcm4chee.zip"), sha256=ZIP_SHA)]
    said: list[str] = []
    done = stage_downloads(wanted, downloader(tmp_path), tmp_path / "stage", said.append)
    assert site.hits["/dl/dcm4chee.zip"] == 1
    assert set(done.contexts) == {"dcm4chee-amd64", "dcm4chee-arm64v8"}
    for key, pairs in done.contexts.items():
        assert pairs == (("downloads", str(tmp_path / "stage" / key)),)
        assert (tmp_path / "stage" / key / "dcm4chee.zip").read_bytes() == ZIP
    assert not done.failed
    done.cleanup()
    assert not (tmp_path / "stage").exists()


def test_a_first_seen_checksum_is_recorded_then_required(site: Site, tmp_path: Path) -> None:
    url = site.serve("/dl/diana.tar.gz", ZIP)
    recipe = tmp_path / "images" / "diana"
    recipe.mkdir(parents=True)
    wanted = [need(url, recipe, ("diana", "diana-amd64", "diana.tar.gz"))]
    done = stage_downloads(wanted, downloader(tmp_path), tmp_path / "stage", lambda _: None)
    assert done.recorded == (recipe / LOCK_NAME,)
    assert read_lock(recipe / LOCK_NAME) == {url: ZIP_SHA}
    # The upstream file changes behind the same URL: the lock now refuses it.
    site.serve("/dl/diana.tar.gz", ZIP + b"changed")
    locked = Source(url=url, sha256=None).with_lock(read_lock(recipe / LOCK_NAME),
                                                     recipe / LOCK_NAME)
    with pytest.raises(DownloadError, match=f"{LOCK_NAME} requires {ZIP_SHA}"):
        Downloader(cache=tmp_path / "other-cache", retry=FAST).download(locked)


def test_a_failed_download_fails_only_the_targets_that_need_it(site: Site,
                                                               tmp_path: Path) -> None:
    good = site.serve("/dl/diana.tar.gz", ZIP)
    shared = site.serve("/dl/dcm4chee.zip", ZIP)
    missing = site.url("/dl/jre-arm64.tar.gz")
    wanted = [need(missing, tmp_path, ("dcm4chee", "dcm4chee-arm64v8", "jre.tar.gz")),
              need(shared, tmp_path, ("dcm4chee", "dcm4chee-amd64", "dcm4chee.zip"),
                   ("dcm4chee", "dcm4chee-arm64v8", "dcm4chee.zip"), sha256=ZIP_SHA),
              need(good, tmp_path, ("diana", "diana-amd64", "diana.tar.gz"), sha256=ZIP_SHA)]
    done = stage_downloads(wanted, downloader(tmp_path), tmp_path / "stage", lambda _: None)
    assert done.failed == {missing: f"{missing}: HTTP 404 Not Found"}
    # arm64v8's JRE is missing: that target alone cannot build, amd64's has all it needs
    assert done.unbuildable == {"dcm4chee-arm64v8": f"download failed: {missing}: "
                                                    "HTTP 404 Not Found"}
    assert set(done.contexts) == {"dcm4chee-amd64", "diana-amd64"}


def test_a_dry_run_fetches_nothing_but_says_what_it_would(site: Site, tmp_path: Path) -> None:
    url = site.serve("/dl/dcm4chee.zip", ZIP)
    said: list[str] = []
    done = stage_downloads([need(url, tmp_path, ("dcm4chee", "dcm4chee-amd64", "dcm4chee.zip"))],
                    downloader(tmp_path), tmp_path / "stage", said.append, dry_run=True)
    assert site.hits["/dl/dcm4chee.zip"] == 0 and said == [f"would fetch {url} for dcm4chee"]
    assert set(done.contexts) == {"dcm4chee-amd64"}


def test_write_mirror_lays_files_out_as_the_mirror_reads_them(site: Site,
                                                              tmp_path: Path) -> None:
    original = "https://sourceforge.net/projects/jboss/files/jboss-4.2.3.GA-jdk6.zip/download"
    cached = tmp_path / "blob"
    cached.write_bytes(ZIP)
    write_mirror({original: cached}, tmp_path / "tree")
    site.serve("/m/" + str(mirror_path(original)), (tmp_path / "tree" /
                                                    mirror_path(original)).read_bytes())
    fetched = downloader(tmp_path, mirror=site.url("/m")).download(
        Source(url=original, sha256=None))
    assert fetched.sha256 == ZIP_SHA


# --- hostile servers ---------------------------------------------------------------------


def test_a_redirect_to_another_host_is_refused_unless_matrix_yml_allows_it(
        site: Site, tmp_path: Path) -> None:
    site.serve("/real.zip", ZIP)
    site.moved["/a.zip"] = f"http://localhost:{site.port}/real.zip"
    with pytest.raises(DownloadError, match=r"localhost is another host .*redirects:"):
        downloader(tmp_path).download(Source(url=site.url("/a.zip"), sha256=ZIP_SHA))
    allowed = Downloader(cache=tmp_path / "cache", retry=FAST, timeout=5,
                      redirects=(("127.0.0.1", ("localhost",)),))
    assert allowed.download(Source(url=site.url("/a.zip"), sha256=ZIP_SHA)).sha256 == ZIP_SHA


def test_a_redirect_to_ftp_is_refused(site: Site, tmp_path: Path) -> None:
    site.moved["/a.zip"] = "ftp://127.0.0.1/a.zip"
    with pytest.raises(DownloadError, match="http may not be redirected to ftp"):
        downloader(tmp_path).download(Source(url=site.url("/a.zip"), sha256=None))
    assert site.hits["/a.zip"] == 1  # refused, not retried


@pytest.mark.parametrize(("origin", "target", "problem"), [
    pytest.param("https://a.org/x", "http://a.org/x", "https may not be redirected to http",
                 id="downgrade"),
    pytest.param("https://a.org/x", "https://u:p@a.org/x", "carries a user or password",
                 id="userinfo"),
    pytest.param("https://github.com/o/r/archive/c.tar.gz",
                 "https://codeload.github.com/o/r/tar.gz/c", None, id="allowed-host"),
    pytest.param("https://downloads.sourceforge.net/p/f.zip",
                 "https://netix.dl.sourceforge.net/p/f.zip", None, id="allowed-subdomain"),
    pytest.param("https://downloads.sourceforge.net/p/f.zip",
                 "https://evil.example/p/f.zip", "evil.example is another host",
                 id="other-host"),
])
def test_redirect_policy(origin: str, target: str, problem: str | None) -> None:
    policy = (("github.com", ("codeload.github.com",)),
              ("downloads.sourceforge.net", ("*.dl.sourceforge.net",)))
    found = redirect_problem(origin, target, policy)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_download_over_the_size_cap_is_refused_and_leaves_nothing(site: Site,
                                                                   tmp_path: Path) -> None:
    url = site.serve("/big.zip", ZIP)
    small = Downloader(cache=tmp_path / "cache", retry=FAST, timeout=5, max_bytes=1000)
    with pytest.raises(DownloadError, match="over the 0 MiB a download may be"):
        small.download(Source(url=url, sha256=None))
    assert list((tmp_path / "cache" / "downloads" / "sha256").iterdir()) == []


def test_a_server_that_drips_bytes_is_given_up_at_the_deadline(site: Site,
                                                               tmp_path: Path) -> None:
    url = site.serve("/drip.zip", b"x" * 50)
    site.drips.add("/drip.zip")
    slow = Downloader(cache=tmp_path / "cache", retry=FAST, timeout=5, deadline=0.5)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="took over 0 s"):
        slow.download(Source(url=url, sha256=None))
    assert time.monotonic() - started < 5  # each byte came well within the read timeout


def test_a_file_mirror_is_not_left_through_a_symlink(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "example.org").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("the host's own file")
    (mirror / "example.org" / "a.zip").symlink_to(secret)
    with pytest.raises(DownloadError, match="leads outside the mirror"):
        downloader(tmp_path, mirror.as_uri()).download(
            Source(url="https://example.org/a.zip", sha256=None))
