"""matrix.yml `downloads`, the downloads.lock, the mirror layout and the run's fetch list."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from xbuild.cli import app
from xbuild.core.downloads import (
    ANY_ARCH,
    LOCK_NAME,
    Download,
    ImageDownloads,
    Need,
    Source,
    mirror_path,
    mirror_problem,
    mirrored,
    names_a_branch,
    needs,
    parse_lock,
    read_lock,
    render_lock,
    unlocked,
    unpinned,
    url_problem,
)
from xbuild.core.errors import MatrixError
from xbuild.core.matrix import load_matrix
from xbuild.core.platforms import Arch, arch_named

WriteMatrix = Callable[..., Path]  # the write_matrix fixture: (doc, **options) -> Path

SHA_A = "0123456789abcdef" * 4
SHA_B = "fedcba9876543210" * 4
SHA_C = "a" * 64
DCM4CHEE_URL = "https://example.org/dcm4chee.zip"
JBOSS_URL = "https://example.org/jboss.zip"
JRE_AMD64 = "https://example.org/jre-x64.tgz"
JRE_ARM64 = "https://example.org/jre-aarch64.tgz"
KEY = "images.dcm4chee.downloads"
CONTEXT = "images/dcm4chee"


def arch(name: str) -> Arch:
    found = arch_named(name)
    assert found is not None, name
    return found


AMD64, ARM64 = arch("amd64"), arch("arm64v8")


def matrix_with(downloads: Any) -> dict[str, Any]:
    """A matrix whose dcm4chee image builds amd64 and arm64v8 (not the matrix's arm32v7)."""
    return {
        "namespace": "derekmerck",
        "tag": "latest",
        "architectures": ["amd64", "arm32v7", "arm64v8"],
        "images": {
            "dcm4chee": {"context": CONTEXT, "architectures": ["amd64", "arm64v8"],
                         "downloads": downloads},
            "orthanc": {"context": "images/orthanc"},
        },
    }


def write(write_matrix: WriteMatrix, downloads: Any, lock: str | None = None) -> Path:
    """Write the matrix (and dcm4chee's downloads.lock if given); the matrix path."""
    path = write_matrix(matrix_with(downloads))
    if lock is not None:
        (path.parent / CONTEXT / LOCK_NAME).write_text(lock, encoding="utf-8")
    return path


def load(write_matrix: WriteMatrix, downloads: Any, lock: str | None = None) -> ImageDownloads:
    path = write(write_matrix, downloads, lock)
    found = load_matrix(path).image("dcm4chee").downloads
    assert found is not None
    return found


def for_arch(downloads: ImageDownloads, one: Arch) -> dict[str, Source]:
    return dict(downloads.for_arch(one))


# --- valid forms -------------------------------------------------------------------------


def test_bare_url_serves_every_arch_unpinned(write_matrix: WriteMatrix, tmp_path: Path) -> None:
    downloads = load(write_matrix, {"dcm4chee.zip": DCM4CHEE_URL})
    assert downloads.lock_path == tmp_path / CONTEXT / LOCK_NAME
    for one in (AMD64, ARM64):
        assert downloads.for_arch(one) == (
            ("dcm4chee.zip", Source(url=DCM4CHEE_URL, sha256=None, pinned_in="")),)


@pytest.mark.parametrize("given", [
    pytest.param(SHA_A, id="lower-case"),
    pytest.param(SHA_A.upper(), id="upper-case"),
])
def test_pinned_sha256_is_kept_lower_case(write_matrix: WriteMatrix, given: str) -> None:
    downloads = load(write_matrix, {"jboss.zip": {"url": JBOSS_URL, "sha256": given}})
    source = for_arch(downloads, AMD64)["jboss.zip"]
    assert source == Source(url=JBOSS_URL, sha256=SHA_A, pinned_in="matrix.yml")


def test_per_arch_urls_give_each_arch_its_own(write_matrix: WriteMatrix) -> None:
    downloads = load(write_matrix, {"jre.tar.gz": {
        "url": {"amd64": JRE_AMD64, "arm64v8": JRE_ARM64}, "sha256": {"amd64": SHA_A}}})
    assert for_arch(downloads, AMD64) == {
        "jre.tar.gz": Source(url=JRE_AMD64, sha256=SHA_A, pinned_in="matrix.yml")}
    assert for_arch(downloads, ARM64) == {
        "jre.tar.gz": Source(url=JRE_ARM64, sha256=None, pinned_in="")}


def test_per_arch_sha256_may_pin_every_arch(write_matrix: WriteMatrix) -> None:
    downloads = load(write_matrix, {"jre.tar.gz": {
        "url": {"amd64": JRE_AMD64, "arm64v8": JRE_ARM64},
        "sha256": {"amd64": SHA_A, "arm64v8": SHA_B.upper()}}})
    assert for_arch(downloads, AMD64)["jre.tar.gz"].sha256 == SHA_A
    assert for_arch(downloads, ARM64)["jre.tar.gz"].sha256 == SHA_B


def test_several_files_keep_their_order(write_matrix: WriteMatrix) -> None:
    downloads = load(write_matrix, {
        "dcm4chee.zip": DCM4CHEE_URL,
        "jboss.zip": {"url": JBOSS_URL, "sha256": SHA_A},
        "jre.tar.gz": {"url": {"amd64": JRE_AMD64, "arm64v8": JRE_ARM64}},
    })
    assert [d.name for d in downloads.files] == ["dcm4chee.zip", "jboss.zip", "jre.tar.gz"]
    assert [(n, s.url) for n, s in downloads.for_arch(ARM64)] == [
        ("dcm4chee.zip", DCM4CHEE_URL), ("jboss.zip", JBOSS_URL), ("jre.tar.gz", JRE_ARM64)]


@pytest.mark.parametrize("name", ["jre-8u402+b06_linux.tar.gz", "A.zip", "9", "dcm4chee.zip"])
def test_plain_file_names_are_accepted(write_matrix: WriteMatrix, name: str) -> None:
    downloads = load(write_matrix, {name: DCM4CHEE_URL})
    assert [d.name for d in downloads.files] == [name]


def test_image_without_downloads_has_none(write_matrix: WriteMatrix) -> None:
    matrix = load_matrix(write(write_matrix, {"dcm4chee.zip": DCM4CHEE_URL}))
    orthanc = matrix.image("orthanc").downloads
    assert orthanc is not None
    assert orthanc.files == ()
    assert orthanc.for_arch(AMD64) == ()


def test_lock_pins_an_unpinned_url(write_matrix: WriteMatrix, tmp_path: Path) -> None:
    lock = f"# recorded by xbuild\n\n{SHA_B}  {DCM4CHEE_URL}\n{SHA_C}  https://example.org/other\n"
    downloads = load(write_matrix, {"dcm4chee.zip": DCM4CHEE_URL}, lock)
    lock_path = tmp_path / CONTEXT / LOCK_NAME
    for one in (AMD64, ARM64):
        assert for_arch(downloads, one)["dcm4chee.zip"] == Source(
            url=DCM4CHEE_URL, sha256=SHA_B, pinned_in=str(lock_path))


def test_matrix_pin_wins_over_the_lock(write_matrix: WriteMatrix) -> None:
    downloads = load(write_matrix, {"jboss.zip": {"url": JBOSS_URL, "sha256": SHA_A}},
                     f"{SHA_B}  {JBOSS_URL}\n")
    assert for_arch(downloads, AMD64)["jboss.zip"] == Source(
        url=JBOSS_URL, sha256=SHA_A, pinned_in="matrix.yml")


def test_lock_pins_only_the_arch_whose_url_it_names(write_matrix: WriteMatrix,
                                                     tmp_path: Path) -> None:
    downloads = load(write_matrix, {"jre.tar.gz": {"url": {"amd64": JRE_AMD64,
                                                           "arm64v8": JRE_ARM64}}},
                     f"{SHA_C}  {JRE_ARM64}\n")
    assert for_arch(downloads, AMD64)["jre.tar.gz"].sha256 is None
    assert for_arch(downloads, ARM64)["jre.tar.gz"] == Source(
        url=JRE_ARM64, sha256=SHA_C, pinned_in=str(tmp_path / CONTEXT / LOCK_NAME))


def test_each_image_reads_only_its_own_lock(write_matrix: WriteMatrix, tmp_path: Path) -> None:
    doc = matrix_with({"dcm4chee.zip": DCM4CHEE_URL})
    doc["images"]["orthanc"]["downloads"] = {"dcm4chee.zip": DCM4CHEE_URL}
    path = write_matrix(doc)
    (tmp_path / CONTEXT / LOCK_NAME).write_text(f"{SHA_A}  {DCM4CHEE_URL}\n", encoding="utf-8")
    matrix = load_matrix(path)
    dcm4chee, orthanc = matrix.image("dcm4chee").downloads, matrix.image("orthanc").downloads
    assert dcm4chee is not None and orthanc is not None
    assert for_arch(dcm4chee, AMD64)["dcm4chee.zip"].sha256 == SHA_A
    assert for_arch(orthanc, AMD64)["dcm4chee.zip"].sha256 is None
    assert orthanc.lock_path == tmp_path / "images/orthanc" / LOCK_NAME


# --- invalid downloads: a MatrixError `<file>: <key>: <what is wrong>` --------------------

_PER_ARCH = {"amd64": JRE_AMD64, "arm64v8": JRE_ARM64}

BAD_DOWNLOADS: list[Any] = [
    pytest.param([DCM4CHEE_URL], KEY, "must map a file name", id="downloads-a-list"),
    pytest.param(DCM4CHEE_URL, KEY, "must map a file name", id="downloads-a-string"),
    pytest.param({}, KEY, "must map a file name", id="downloads-empty"),
    pytest.param({"lib/jboss.zip": JBOSS_URL}, f"{KEY}.lib/jboss.zip", "not a plain file name",
                 id="name-with-slash"),
    pytest.param({".jboss.zip": JBOSS_URL}, f"{KEY}..jboss.zip", "not a plain file name",
                 id="name-leading-dot"),
    pytest.param({"..": JBOSS_URL}, f"{KEY}...", "not a plain file name", id="name-dot-dot"),
    pytest.param({"jboss zip": JBOSS_URL}, f"{KEY}.jboss zip", "not a plain file name",
                 id="name-with-space"),
    pytest.param({"jboss.zip": None}, f"{KEY}.jboss.zip", "must be a URL, or a mapping",
                 id="entry-null"),
    pytest.param({"jboss.zip": [JBOSS_URL]}, f"{KEY}.jboss.zip", "must be a URL, or a mapping",
                 id="entry-a-list"),
    pytest.param({"jboss.zip": {"sha256": SHA_A}}, f"{KEY}.jboss.zip",
                 "must be a URL, or a mapping", id="entry-without-url"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha265": SHA_A}}, f"{KEY}.jboss.zip.sha265",
                 "unknown key; known keys: url, sha256", id="entry-unknown-key"),
    pytest.param({"jboss.zip": "ftp://example.org/jboss.zip"}, f"{KEY}.jboss.zip.url",
                 "'ftp://example.org/jboss.zip' is not an http(s) URL", id="url-ftp"),
    pytest.param({"jboss.zip": "https:///jboss.zip"}, f"{KEY}.jboss.zip.url",
                 "has no valid host name", id="url-without-host"),
    pytest.param({"jboss.zip": "jboss.zip"}, f"{KEY}.jboss.zip.url", "is not an http(s) URL",
                 id="url-a-bare-name"),
    pytest.param({"jboss.zip": "https://example.org/jboss 1.zip"}, f"{KEY}.jboss.zip.url",
                 "is not an http(s) URL", id="url-with-space"),
    pytest.param({"jboss.zip": {"url": 42}}, f"{KEY}.jboss.zip.url",
                 "must be a URL, or map each architecture", id="url-a-number"),
    pytest.param({"jboss.zip": {"url": {}}}, f"{KEY}.jboss.zip.url",
                 "must be a URL, or map each architecture", id="url-empty-mapping"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": SHA_A[:63]}},
                 f"{KEY}.jboss.zip.sha256", "is not a sha256 (64 hex digits)", id="sha256-63"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": SHA_A + "0"}},
                 f"{KEY}.jboss.zip.sha256", "is not a sha256", id="sha256-65"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": "g" * 64}},
                 f"{KEY}.jboss.zip.sha256", "is not a sha256", id="sha256-not-hex"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": f"sha256:{SHA_A}"}},
                 f"{KEY}.jboss.zip.sha256", "is not a sha256", id="sha256-with-prefix"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": 1234}},
                 f"{KEY}.jboss.zip.sha256", "1234 is not a sha256", id="sha256-a-number"),
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": {"amd64": SHA_A}}},
                 f"{KEY}.jboss.zip.sha256", "is not a sha256", id="sha256-per-arch-for-one-url"),
    pytest.param({"jre.tar.gz": {"url": {**_PER_ARCH, "arm32v7": JRE_AMD64}}},
                 f"{KEY}.jre.tar.gz.url.arm32v7",
                 "not an architecture this image builds (amd64, arm64v8)",
                 id="per-arch-url-arch-not-built"),
    pytest.param({"jre.tar.gz": {"url": {**_PER_ARCH, "sparc": JRE_AMD64}}},
                 f"{KEY}.jre.tar.gz.url.sparc", "not an architecture this image builds",
                 id="per-arch-url-unknown-arch"),
    pytest.param({"jre.tar.gz": {"url": {"amd64": JRE_AMD64}}}, f"{KEY}.jre.tar.gz.url",
                 "no URL for arm64v8", id="per-arch-url-lacks-a-built-arch"),
    pytest.param({"jre.tar.gz": {"url": {"amd64": JRE_AMD64, "arm64v8": "ftp://x.org/j"}}},
                 f"{KEY}.jre.tar.gz.url.arm64v8", "is not an http(s) URL",
                 id="per-arch-url-not-http"),
    pytest.param({"jre.tar.gz": {"url": _PER_ARCH, "sha256": {"arm32v7": SHA_A}}},
                 f"{KEY}.jre.tar.gz.sha256", "no URL for arm32v7",
                 id="per-arch-sha256-without-url"),
    pytest.param({"jre.tar.gz": {"url": _PER_ARCH, "sha256": {"amd64": "xyz"}}},
                 f"{KEY}.jre.tar.gz.sha256.amd64", "'xyz' is not a sha256",
                 id="per-arch-sha256-bad"),
    pytest.param({"jre.tar.gz": {"url": _PER_ARCH, "sha256": SHA_A}},
                 f"{KEY}.jre.tar.gz.sha256", "must map each architecture to a sha256",
                 id="per-arch-url-with-one-sha256-string"),
]


@pytest.mark.parametrize(("downloads", "key", "fragment"), BAD_DOWNLOADS)
def test_bad_downloads_are_refused_naming_file_and_key(
        write_matrix: WriteMatrix, downloads: Any, key: str, fragment: str) -> None:
    path = write(write_matrix, downloads)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert fragment in message


def test_url_with_a_trailing_newline_is_refused(write_matrix: WriteMatrix) -> None:
    # e.g. `url: |` in YAML; such a URL never matches its lock line, nor fetches cleanly.
    path = write(write_matrix, {"jboss.zip": {"url": JBOSS_URL + "\n"}})
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    assert str(caught.value).startswith(f"{path}: {KEY}.jboss.zip.url: "), str(caught.value)


def test_one_arch_named_twice_in_per_arch_urls_is_refused(write_matrix: WriteMatrix) -> None:
    # Two spellings of amd64: one URL would silently replace the other.
    path = write(write_matrix, {"jre.tar.gz": {"url": {
        "amd64": JRE_AMD64, "linux/amd64": "https://example.org/other.tgz",
        "arm64v8": JRE_ARM64}}})
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    assert str(caught.value).startswith(f"{path}: {KEY}.jre.tar.gz.url"), str(caught.value)


# --- the lock file -----------------------------------------------------------------------


@pytest.mark.parametrize(("lock", "line"), [
    pytest.param(f"# header\n\n{SHA_A}  {DCM4CHEE_URL}\nnot-a-sha  {JBOSS_URL}\n", 4,
                 id="bad-digest"),
    pytest.param(f"{SHA_A}\n", 1, id="digest-without-url"),
    pytest.param(f"{SHA_A.upper()}  {JBOSS_URL}\n", 1, id="upper-case-digest"),
    pytest.param(f"# a\n{JBOSS_URL}  {SHA_A}\n", 2, id="columns-swapped"),
])
def test_malformed_lock_line_is_refused_naming_lock_and_line(
        write_matrix: WriteMatrix, tmp_path: Path, lock: str, line: int) -> None:
    path = write(write_matrix, {"dcm4chee.zip": DCM4CHEE_URL}, lock)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / CONTEXT / LOCK_NAME}:{line}: "), message
    assert "expected '<sha256>  <url>'" in message


def test_url_locked_twice_with_different_checksums_is_refused(write_matrix: WriteMatrix,
                                                               tmp_path: Path) -> None:
    lock = f"{SHA_A}  {JBOSS_URL}\n{SHA_B}  {DCM4CHEE_URL}\n{SHA_C}  {JBOSS_URL}\n"
    path = write(write_matrix, {"jboss.zip": JBOSS_URL}, lock)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / CONTEXT / LOCK_NAME}:3: "), message
    assert f"{JBOSS_URL} is locked twice with different checksums" in message


def test_url_locked_twice_with_the_same_checksum_is_accepted() -> None:
    text = f"{SHA_A}  {JBOSS_URL}\n{SHA_A}  {JBOSS_URL}\n"
    assert parse_lock(text, Path(LOCK_NAME)) == {JBOSS_URL: SHA_A}


def test_parse_lock_reads_sha256sum_lines_skipping_comments_and_blanks() -> None:
    text = (f"# first line\n\n   \n  # indented comment\n{SHA_A}  {JBOSS_URL}\n"
            f"  {SHA_B} {DCM4CHEE_URL}  \n")
    assert parse_lock(text, Path(LOCK_NAME)) == {JBOSS_URL: SHA_A, DCM4CHEE_URL: SHA_B}


def test_render_then_parse_gives_the_same_entries() -> None:
    entries = {JRE_ARM64: SHA_C, DCM4CHEE_URL: SHA_A, "https://example.org/a?b=1": SHA_B}
    assert parse_lock(render_lock(entries), Path(LOCK_NAME)) == entries


def test_render_lock_sorts_by_url_after_a_header_comment() -> None:
    text = render_lock({JRE_ARM64: SHA_C, DCM4CHEE_URL: SHA_A, JBOSS_URL: SHA_B})
    lines = text.splitlines()
    header = [line for line in lines if line.startswith("#")]
    assert header and lines[:len(header)] == header
    assert lines[len(header):] == [f"{SHA_A}  {DCM4CHEE_URL}", f"{SHA_B}  {JBOSS_URL}",
                                   f"{SHA_C}  {JRE_ARM64}"]
    assert text.endswith("\n")


def test_render_lock_of_nothing_is_a_header_that_parses_empty() -> None:
    text = render_lock({})
    assert text.startswith("# ")
    assert parse_lock(text, Path(LOCK_NAME)) == {}


def test_read_lock_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_lock(tmp_path / LOCK_NAME) == {}


def test_read_lock_of_a_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    path.write_bytes(b"\xff\xfe garbage\n")
    with pytest.raises(MatrixError) as caught:
        read_lock(path)
    assert str(caught.value).startswith(f"{path}: cannot read"), str(caught.value)


# --- the mirror --------------------------------------------------------------------------

SOURCEFORGE = "https://sourceforge.net/projects/x/files/a.zip/download"


@pytest.mark.parametrize("mirror", [None, ""])
def test_no_mirror_leaves_the_url_alone(mirror: str | None) -> None:
    assert mirrored(SOURCEFORGE, mirror) == SOURCEFORGE


@pytest.mark.parametrize("mirror", ["http://10.0.0.5/m/", "http://10.0.0.5/m"])
def test_mirrored_url_is_mirror_host_and_path(mirror: str) -> None:
    assert mirrored(SOURCEFORGE, mirror) == (
        "http://10.0.0.5/m/sourceforge.net/projects/x/files/a.zip/download")


def test_mirrored_keeps_the_port_and_works_with_a_file_mirror() -> None:
    assert mirrored("http://example.org:8080/a.zip", "file:///srv/mirror/") == (
        "file:///srv/mirror/example.org:8080/a.zip")


def test_mirrored_encodes_the_query_into_the_path() -> None:
    one = mirrored("https://example.org/get?id=1&v=2", "http://m")
    other = mirrored("https://example.org/get?id=2&v=2", "http://m")
    assert "?" not in one and "?" not in other
    assert one.startswith("http://m/example.org/get")
    assert one != other != mirrored("https://example.org/get", "http://m")


def test_mirror_path_of_the_sourceforge_url() -> None:
    assert mirror_path(SOURCEFORGE) == Path("sourceforge.net/projects/x/files/a.zip/download")


@pytest.mark.parametrize(("url", "path", "served"), [
    pytest.param("https://example.org/a/b.tgz", "example.org/a/b.tgz",
                 "http://10.0.0.5/m/example.org/a/b.tgz", id="plain"),
    pytest.param("http://example.org:8080/a/b.tgz", "example.org:8080/a/b.tgz",
                 "http://10.0.0.5/m/example.org:8080/a/b.tgz", id="port"),
    pytest.param("https://example.org/get?id=1&v=2", "example.org/get%3Fid%3D1%26v%3D2",
                 "http://10.0.0.5/m/example.org/get%3Fid%3D1%26v%3D2", id="query"),
    pytest.param("https://example.org/a%20b/c.zip", "example.org/a b/c.zip",
                 "http://10.0.0.5/m/example.org/a%20b/c.zip", id="escape-decoded-then-quoted"),
])
def test_mirror_path_and_mirrored_url(url: str, path: str, served: str) -> None:
    assert mirror_path(url) == Path(path)
    assert mirrored(url, "http://10.0.0.5/m/") == served


@pytest.mark.parametrize(("url", "problem"), [
    pytest.param("https://example.org/a/../../../escape.zip", "has . or .. segments",
                 id="dot-dot"),
    pytest.param("https://example.org/a/%2e%2e/%2E%2E/etc/hostname", "has . or .. segments",
                 id="percent-encoded-dot-dot"),
    pytest.param("https://../etc/hostname", "has no valid host name", id="host-dot-dot"),
    pytest.param("https://user:secret@example.org/a.zip", "carries a user or password",
                 id="userinfo"),
    pytest.param("ftp://example.org/a.zip", "is not an http(s) URL", id="ftp"),
    pytest.param("file:///etc/hostname", "is not an http(s) URL", id="file"),
    pytest.param("https://example.org/a%5c..%5cb.zip", "backslashes", id="encoded-backslash"),
    pytest.param("https://example.org/a%00.zip", "control characters", id="nul"),
    pytest.param("https://example.org:0/a.zip", "has no valid host name", id="port-zero"),
    pytest.param("https://example.org:99999/a.zip", "has an invalid port", id="port-too-big"),
    pytest.param("https://example.org/a.zip#frag", "has a #fragment", id="fragment"),
    pytest.param("https://exa mple.org/a.zip", "is not an http(s) URL", id="space"),
])
def test_hostile_urls_are_refused_and_have_no_place_in_a_mirror(url: str, problem: str) -> None:
    found = url_problem(url)
    assert found is not None and problem in found
    with pytest.raises(MatrixError, match=re.escape(problem)):
        mirror_path(url)


def test_a_url_with_dot_segments_is_refused(write_matrix: WriteMatrix) -> None:
    path = write(write_matrix, {"jboss.zip": "https://example.org/a/../../escape.zip"})
    with pytest.raises(MatrixError, match=r"jboss\.zip\.url: .* has \. or \.\. segments"):
        load_matrix(path)


def test_an_arch_given_null_needs_no_file(write_matrix: WriteMatrix) -> None:
    matrix = load_matrix(write(write_matrix, {"libclib_jiio.so": {"url": {
        "amd64": JRE_AMD64, "arm64v8": None}}}))
    downloads = matrix.image("dcm4chee").downloads
    assert downloads is not None
    assert [name for name, _ in downloads.for_arch(AMD64)] == ["libclib_jiio.so"]
    assert downloads.for_arch(ARM64) == ()


def test_a_missing_arch_names_the_null_way_out(write_matrix: WriteMatrix) -> None:
    path = write(write_matrix, {"libclib_jiio.so": {"url": {"amd64": JRE_AMD64}}})
    with pytest.raises(MatrixError, match=r"no URL for arm64v8 .*`arm64v8: null`"):
        load_matrix(path)


def test_two_different_pins_on_one_url_are_refused() -> None:
    by_image = {
        "dcm4chee": image_downloads(LOCK_A, ("jboss.zip", {ANY_ARCH: Source(
            url=JBOSS_URL, sha256=SHA_A, pinned_in="matrix.yml")})),
        "diana": image_downloads(LOCK_B, ("jboss.zip", {ANY_ARCH: Source(
            url=JBOSS_URL, sha256=SHA_B, pinned_in=str(LOCK_B))}))}
    with pytest.raises(MatrixError, match=f"{JBOSS_URL}: matrix.yml requires sha256 {SHA_A}"):
        fetch_list([("dcm4chee", "d-amd64", AMD64), ("diana", "x-amd64", AMD64)], by_image)


def test_a_first_seen_checksum_goes_to_every_lock_that_lacks_it() -> None:
    source = Source(url=JBOSS_URL, sha256=None)
    by_image = {"dcm4chee": image_downloads(LOCK_A, ("jboss.zip", {ANY_ARCH: source})),
                "diana": image_downloads(LOCK_B, ("jboss.zip", {ANY_ARCH: source}))}
    (need,) = fetch_list([("dcm4chee", "d-amd64", AMD64), ("diana", "x-amd64", AMD64),
                          ("diana", "x-arm64v8", ARM64)], by_image)
    assert need.lock_paths == (LOCK_A, LOCK_B)


@pytest.mark.parametrize("mirror", [
    "http://10.0.0.5/m/", "https://mirror.example.org", "file:///srv/mirror",
])
def test_mirror_problem_accepts_http_https_and_file(mirror: str) -> None:
    assert mirror_problem(mirror) is None


@pytest.mark.parametrize("mirror", [
    "ftp://mirror.example.org/", "http://", "/srv/mirror", "mirror.example.org",
])
def test_mirror_problem_refuses_anything_else(mirror: str) -> None:
    problem = mirror_problem(mirror)
    assert problem is not None
    assert repr(mirror) in problem
    assert "http(s)://" in problem and "file://" in problem


# --- the run's fetch list ----------------------------------------------------------------

LOCK_A, LOCK_B = Path("images/dcm4chee") / LOCK_NAME, Path("images/diana") / LOCK_NAME


def image_downloads(lock_path: Path, *files: tuple[str, dict[str, Source]]) -> ImageDownloads:
    return ImageDownloads(lock_path=lock_path, files=tuple(
        Download(name=name, sources=tuple(sources.items())) for name, sources in files))


def fetch_list(targets: list[tuple[str, str, Arch]],
               by_image: dict[str, ImageDownloads]) -> tuple[Need, ...]:
    return needs(targets, by_image.get)


def test_two_arches_sharing_a_url_give_one_need_with_two_users() -> None:
    source = Source(url=DCM4CHEE_URL, sha256=SHA_A, pinned_in="matrix.yml")
    dcm4chee = image_downloads(LOCK_A, ("dcm4chee.zip", {ANY_ARCH: source}))
    found = fetch_list([("dcm4chee", "dcm4chee-amd64", AMD64),
                        ("dcm4chee", "dcm4chee-arm64v8", ARM64)], {"dcm4chee": dcm4chee})
    assert found == (Need(source=source, lock_paths=(LOCK_A,), users=(
        ("dcm4chee", "dcm4chee-amd64", "dcm4chee.zip"),
        ("dcm4chee", "dcm4chee-arm64v8", "dcm4chee.zip"))),)


def test_per_arch_urls_give_one_need_each() -> None:
    amd64 = Source(url=JRE_AMD64, sha256=None)
    arm64 = Source(url=JRE_ARM64, sha256=None)
    dcm4chee = image_downloads(LOCK_A, ("jre.tar.gz", {"amd64": amd64, "arm64v8": arm64}))
    found = fetch_list([("dcm4chee", "k-amd64", AMD64), ("dcm4chee", "k-arm64v8", ARM64)],
                       {"dcm4chee": dcm4chee})
    assert found == (
        Need(source=amd64, lock_paths=(LOCK_A,), users=(("dcm4chee", "k-amd64", "jre.tar.gz"),)),
        Need(source=arm64, lock_paths=(LOCK_A,), users=(("dcm4chee", "k-arm64v8", "jre.tar.gz"),)),
    )


def test_only_the_selected_arches_are_fetched() -> None:
    dcm4chee = image_downloads(LOCK_A, ("jre.tar.gz", {"amd64": Source(url=JRE_AMD64, sha256=None),
                                                       "arm64v8": Source(url=JRE_ARM64,
                                                                         sha256=None)}))
    found = fetch_list([("dcm4chee", "k-arm64v8", ARM64)], {"dcm4chee": dcm4chee})
    assert [need.source.url for need in found] == [JRE_ARM64]


def test_two_images_sharing_a_url_give_one_need() -> None:
    source = Source(url=JBOSS_URL, sha256=None)
    by_image = {"dcm4chee": image_downloads(LOCK_A, ("jboss.zip", {ANY_ARCH: source})),
                "diana": image_downloads(LOCK_B, ("server.zip", {ANY_ARCH: source}))}
    (need,) = fetch_list([("dcm4chee", "d-amd64", AMD64), ("diana", "x-amd64", AMD64)], by_image)
    assert need.source.url == JBOSS_URL
    assert need.users == (("dcm4chee", "d-amd64", "jboss.zip"), ("diana", "x-amd64", "server.zip"))


def test_needs_come_in_order_of_first_use() -> None:
    dcm4chee = image_downloads(LOCK_A, ("b.zip", {ANY_ARCH: Source(url=JBOSS_URL, sha256=None)}),
                               ("a.zip", {ANY_ARCH: Source(url=DCM4CHEE_URL, sha256=None)}))
    found = fetch_list([("dcm4chee", "k", AMD64)], {"dcm4chee": dcm4chee})
    assert [need.source.url for need in found] == [JBOSS_URL, DCM4CHEE_URL]


def test_images_without_downloads_contribute_nothing() -> None:
    by_image = {"orthanc": ImageDownloads(lock_path=Path("images/orthanc") / LOCK_NAME)}
    targets = [("orthanc", "o-amd64", AMD64), ("diana", "d-amd64", AMD64)]  # diana: None
    assert fetch_list(targets, by_image) == ()
    assert fetch_list([], by_image) == ()


@pytest.mark.parametrize("pinned_first", [True, False], ids=["pinned-first", "unpinned-first"])
def test_a_pin_on_a_shared_url_is_kept_whichever_image_comes_first(pinned_first: bool) -> None:
    # One Need per URL must not drop the checksum another image's matrix.yml entry requires.
    pinned = Source(url=JBOSS_URL, sha256=SHA_A, pinned_in="matrix.yml")
    unpinned = Source(url=JBOSS_URL, sha256=None)
    by_image = {"dcm4chee": image_downloads(LOCK_A, ("jboss.zip", {ANY_ARCH: pinned})),
                "diana": image_downloads(LOCK_B, ("jboss.zip", {ANY_ARCH: unpinned}))}
    targets = [("dcm4chee", "d-amd64", AMD64), ("diana", "x-amd64", AMD64)]
    (need,) = fetch_list(targets if pinned_first else targets[::-1], by_image)
    assert need.source.sha256 == SHA_A


def test_matrix_downloads_feed_needs(write_matrix: WriteMatrix) -> None:
    matrix = load_matrix(write(write_matrix, {
        "dcm4chee.zip": DCM4CHEE_URL, "jre.tar.gz": {"url": _PER_ARCH}}))
    targets = [(spec.name, f"{spec.name}-{one.name}", one)
               for spec in matrix.images for one in spec.arches]
    found = needs(targets, lambda name: matrix.image(name).downloads)
    assert {need.source.url: len(need.users) for need in found} == {
        DCM4CHEE_URL: 2, JRE_AMD64: 1, JRE_ARM64: 1}


# --- the CLI -----------------------------------------------------------------------------

runner = CliRunner(env={"COLUMNS": "250", "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
                        "GITHUB_ACTIONS": None})


@pytest.mark.parametrize(("downloads", "lock", "where"), [
    pytest.param({"jboss.zip": {"url": JBOSS_URL, "sha256": "abc"}}, None,
                 f": {KEY}.jboss.zip.sha256: ", id="bad-sha256"),
    pytest.param({"jboss.zip": JBOSS_URL}, "nonsense\n", f"/{CONTEXT}/{LOCK_NAME}:1: ",
                 id="bad-lock-line"),
])
def test_cli_plan_exits_2_with_one_line_for_a_bad_download(
        write_matrix: WriteMatrix, downloads: Any, lock: str | None, where: str) -> None:
    path = write(write_matrix, downloads, lock)
    result = runner.invoke(app, ["plan", "-f", str(path)])
    assert result.exit_code == 2, (result.exit_code, result.exception, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    line = result.stderr.rstrip("\n")
    assert "\n" not in line, result.stderr
    assert line.startswith("xbuild: error: "), line
    assert where in line
    if lock is None:
        assert f"{path}{where}" in line


@pytest.mark.parametrize(("url", "branch"), [
    pytest.param("https://github.com/o/r/archive/refs/heads/master.tar.gz", True, id="heads"),
    pytest.param("https://github.com/o/r/archive/main.tar.gz", True, id="short-branch"),
    pytest.param("https://codeload.github.com/o/r/tar.gz/refs/heads/dev", True, id="codeload"),
    pytest.param("https://github.com/o/r/archive/983e58ef0a5fe0d820a56c41c823369754019171.tar.gz",
                 False, id="commit"),
    pytest.param("https://github.com/o/r/archive/refs/tags/v4.6.0.tar.gz", False, id="tag"),
    pytest.param("https://github.com/o/r/archive/v4.6.0.tar.gz", False, id="version-tag"),
    pytest.param("https://files.pythonhosted.org/packages/aa/pkg-1.0.tar.gz", False, id="pypi"),
])
def test_a_url_naming_a_branch_is_recognised(url: str, branch: bool) -> None:
    assert names_a_branch(url) is branch


def test_a_matrix_download_naming_a_branch_is_a_warning_not_an_error(
        write_matrix: WriteMatrix) -> None:
    matrix = load_matrix(write(write_matrix, {
        "src.tar.gz": "https://github.com/o/r/archive/refs/heads/master.tar.gz"}))
    (warning,) = matrix.warnings()
    assert warning.endswith("images.dcm4chee.downloads.src.tar.gz: https://github.com/o/r/"
                            "archive/refs/heads/master.tar.gz names a branch, which moves: pin "
                            "a commit (.../archive/<sha>.tar.gz)")


# --- --locked and --update-lock ---------------------------------------------------------


def test_locked_names_each_unpinned_download_once_per_image_and_file() -> None:
    loose = Source(url=JRE_AMD64, sha256=None)
    by_image = {
        "dcm4chee": image_downloads(LOCK_A, ("jre.tar.gz", {ANY_ARCH: loose}),
                                    ("dcm4chee.zip", {ANY_ARCH: Source(
                                        url=DCM4CHEE_URL, sha256=SHA_A, pinned_in="matrix.yml")})),
        "diana": image_downloads(LOCK_B, ("java.tgz", {ANY_ARCH: loose}))}
    wanted = fetch_list([("dcm4chee", "d-amd64", AMD64), ("dcm4chee", "d-arm64v8", ARM64),
                         ("diana", "x-amd64", AMD64)], by_image)
    assert unpinned(wanted, Path("matrix.yml")) == [
        f"matrix.yml: images.dcm4chee.downloads.jre.tar.gz: {JRE_AMD64} is not pinned: no "
        f"sha256 there and no line in {LOCK_A}, {LOCK_B} (--locked)",
        f"matrix.yml: images.diana.downloads.java.tgz: {JRE_AMD64} is not pinned: no "
        f"sha256 there and no line in {LOCK_A}, {LOCK_B} (--locked)"]


def test_locked_accepts_what_matrix_yml_pins_or_a_lock_lists() -> None:
    by_image = {"dcm4chee": image_downloads(
        LOCK_A, ("a.zip", {ANY_ARCH: Source(url=DCM4CHEE_URL, sha256=SHA_A,
                                            pinned_in="matrix.yml")}),
        ("b.zip", {ANY_ARCH: Source(url=JBOSS_URL, sha256=SHA_B, pinned_in=str(LOCK_A))}))}
    assert unpinned(fetch_list([("dcm4chee", "k", AMD64)], by_image), Path("m.yml")) == []


def test_update_lock_forgets_what_a_lock_says_but_never_a_pin() -> None:
    locked = Need(source=Source(url=JBOSS_URL, sha256=SHA_B, pinned_in=str(LOCK_A)),
                  lock_paths=(LOCK_A,), users=(("dcm4chee", "k", "b.zip"),))
    pinned = Need(source=Source(url=DCM4CHEE_URL, sha256=SHA_A, pinned_in="matrix.yml"),
                  lock_paths=(LOCK_A,), users=(("dcm4chee", "k", "a.zip"),))
    assert unlocked(locked).source == Source(url=JBOSS_URL, sha256=None)
    assert unlocked(locked).users == locked.users
    assert unlocked(pinned) == pinned


def test_a_pin_in_matrix_yml_outranks_the_same_checksum_in_a_lock() -> None:
    from_lock = Source(url=JBOSS_URL, sha256=SHA_B, pinned_in=str(LOCK_A))
    from_matrix = Source(url=JBOSS_URL, sha256=SHA_B, pinned_in="matrix.yml")
    by_image = {"dcm4chee": image_downloads(LOCK_A, ("b.zip", {ANY_ARCH: from_lock})),
                "diana": image_downloads(LOCK_B, ("b.zip", {ANY_ARCH: from_matrix}))}
    (need,) = fetch_list([("dcm4chee", "d", AMD64), ("diana", "x", AMD64)], by_image)
    assert need.source == from_matrix  # so --update-lock still holds the file to the pin
