"""Fixtures of the unit tier: no processes, matrix files written into tmp_path.

- Every unit test runs under a guard that makes starting a process fail the test: this tier
  runs no docker. A test that must start one (e.g. `python -m xbuild`) says so with
  `@pytest.mark.allow_subprocess`.
- `write_matrix(doc)` writes a matrix.yml and the image folders it names.
- `matrix_doc` is a fresh, valid two-image matrix (orthanc and its child orthanc-plugins).
- `bad_matrix` is parametrised over every invalid matrix the loader must refuse; it is shared
  by test_matrix.py (the MatrixError) and test_cli_plan.py (exit 2 and one line on stderr).
- Hypothesis (the property tests, test_properties_*.py) runs the `ci` profile: a fixed number
  of examples, derandomized and without an example database, so every run tries the same
  inputs. `HYPOTHESIS_PROFILE=thorough` tries 20 times as many, random ones (run it locally
  after changing a parser). `--hypothesis-show-statistics` reports each test's examples.
- After the run, each parser's slowest example is printed (tests/unit/bounds.py).
"""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml
from hypothesis import HealthCheck, settings

from tests.unit.bounds import BOUND_SECONDS, FIGURES, SLOWEST

# Hypothesis' own deadline is off: each parser call is timed by tests/unit/bounds.py instead,
# against the stated bound, so a slow shared CI machine is not read as a slow parser.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=100, derandomize=True, database=None,
                          deadline=None, print_blob=True, suppress_health_check=_QUIET)
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ALLOW_SUBPROCESS = "allow_subprocess"
REFUSAL = "unit tests must not run processes"


@pytest.fixture(autouse=True)
def _no_processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to start a process, unless the test is marked allow_subprocess."""
    if request.node.get_closest_marker(ALLOW_SUBPROCESS) is not None:
        return

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(REFUSAL)

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(os, "system", refuse)


# --- writing matrices --------------------------------------------------------------------

Doc = Mapping[str, Any] | str | bytes
WriteMatrix = Callable[..., Path]


def _parsed(doc: Doc) -> Mapping[str, Any]:
    """The document as a mapping, to find the image folders to create ({} if it is not one)."""
    if isinstance(doc, Mapping):
        return doc
    text = doc.decode("latin-1") if isinstance(doc, bytes) else doc
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _default_dockerfile(doc: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    parent = entry.get("from")
    if isinstance(parent, str):
        return f"FROM {doc.get('namespace')}/{parent}:{doc.get('tag')}\nRUN true\n"
    return "FROM debian:bookworm-slim\nRUN true\n"


def write_matrix_file(root: Path, doc: Doc, *, name: str = "matrix.yml",
                      without_context: Collection[str] = (),
                      without_dockerfile: Collection[str] = (),
                      dockerfiles: Mapping[str, str | bytes] | None = None) -> Path:
    """Write `doc` (a mapping, YAML text or raw bytes) to root/name and create its images.

    Each image with a string `context` gets that folder holding its `dockerfile` (default
    `Dockerfile`): `FROM <namespace>/<parent>:<tag>` for a child, a Debian base otherwise.
    `dockerfiles` replaces the content for the named images; `without_context` and
    `without_dockerfile` leave out the folder or the file of the named images.
    """
    path = root / name
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    elif isinstance(doc, str):
        path.write_text(doc, encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(dict(doc), sort_keys=False), encoding="utf-8")
    parsed = _parsed(doc)
    images = parsed.get("images")
    for image, entry in (images.items() if isinstance(images, dict) else ()):
        if not isinstance(entry, dict) or not isinstance(entry.get("context"), str):
            continue
        context = root / entry["context"]
        if image in without_context or not _inside(context, root):
            continue  # a hostile case's path: its folder is not made, let alone written
        context.mkdir(parents=True, exist_ok=True)
        dockerfile = entry.get("dockerfile", "Dockerfile")
        if image in without_dockerfile or not isinstance(dockerfile, str) or not dockerfile:
            continue
        target = context / dockerfile
        if not _inside(target, root):
            continue
        content = (dockerfiles or {}).get(image) or _default_dockerfile(parsed, entry)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return path


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, symlinks followed, stays in `root`: the tests run as root, and a
    hostile case such as `dockerfile: ../../../../etc/passwd` must never be written."""
    return path.resolve().is_relative_to(root.resolve())


@pytest.fixture
def write_matrix(tmp_path: Path) -> WriteMatrix:
    """`write_matrix(doc, **options) -> Path`: see write_matrix_file; writes into tmp_path."""

    def write(doc: Doc, **options: Any) -> Path:
        return write_matrix_file(tmp_path, doc, **options)

    return write


def valid_doc() -> dict[str, Any]:
    return {
        "namespace": "derekmerck",
        "tag": "latest",
        "architectures": ["amd64", "arm32v7", "arm64v8"],
        "images": {
            "orthanc": {"context": "images/orthanc"},
            "orthanc-plugins": {"context": "images/orthanc-plugins", "from": "orthanc"},
        },
    }


@pytest.fixture
def matrix_doc() -> dict[str, Any]:
    """A fresh valid matrix: orthanc for three arches and its child orthanc-plugins."""
    return valid_doc()


# --- the invalid matrices ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BadCase:
    id: str
    doc: Callable[[dict[str, Any]], Doc]  # the invalid document, from a valid one
    key: str  # must appear in the message ("" for errors about the whole document)
    fragments: tuple[str, ...] = ()  # must also appear in the message
    options: tuple[tuple[str, Any], ...] = ()  # write_matrix options


def _put(*path: str, value: Any) -> Callable[[dict[str, Any]], Doc]:
    """A document edit: set doc[path[0]]...[path[-1]] = value."""

    def edit(doc: dict[str, Any]) -> Doc:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return doc

    return edit


def _rename(old: str, new: str) -> Callable[[dict[str, Any]], Doc]:
    def edit(doc: dict[str, Any]) -> Doc:
        return {new if k == old else k: v for k, v in doc.items()}

    return edit


def _edits(*edits: Callable[[dict[str, Any]], Doc]) -> Callable[[dict[str, Any]], Doc]:
    def edit(doc: dict[str, Any]) -> Doc:
        result: Doc = doc
        for one in edits:
            assert isinstance(result, dict)
            result = one(result)
        return result

    return edit


def _same(doc: dict[str, Any]) -> Doc:
    return doc


def _text(text: str | bytes) -> Callable[[dict[str, Any]], Doc]:
    return lambda _doc: text


_YAML_ERROR_ON_LINE_6 = """\
namespace: derekmerck
tag: latest
images:
  orthanc:
    context: images/orthanc
   architectures: [amd64]
"""

_LATIN1_COMMENT = (b"# maintained by J\xfcrgen\nnamespace: derekmerck\ntag: latest\n"
                   b"images:\n  orthanc: {context: images/orthanc}\n")

_ALIAS_BOMB = """\
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
namespace: x
tag: latest
architectures: [*g]
images: {orthanc: {context: images/orthanc}}
"""
_BASE = {"suite": "bookworm", "mirror": "http://deb.debian.org/debian"}
_HOOK = "--customize-hook=touch /tmp/xbuild-canary"
_ORTHANC = ("images", "orthanc")
_PLUGINS = ("images", "orthanc-plugins")

# What an audit found reaching the host, leaving the folder, or crashing the loader.
HOSTILE_CASES: tuple[BadCase, ...] = (
    BadCase("suite-is-an-mmdebstrap-hook", _put("bases", value={"debian:bookworm-slim": {
        **_BASE, "suite": _HOOK}}), "bases.debian:bookworm-slim.suite",
            ("is not a Debian suite name",)),
    BadCase("mirror-with-a-newline", _put("bases", value={"debian:bookworm-slim": {
        **_BASE, "mirror": "http://deb.debian.org/debian\ndeb [trusted=yes] http://evil/ x"}}),
            "bases.debian:bookworm-slim.mirror", ("is not an http(s) URL",)),
    BadCase("mirror-with-a-space-option", _put("bases", value={"debian:bookworm-slim": {
        **_BASE, "mirror": "[trusted=yes] http://evil/"}}), "bases.debian:bookworm-slim.mirror",
            ("is not an http(s) URL",)),
    BadCase("context-is-the-root", _put(*_ORTHANC, "context", value="/"),
            "images.orthanc.context", ("leads outside",)),
    BadCase("context-climbs-out", _put(*_ORTHANC, "context", value="../.."),
            "images.orthanc.context", ("leads outside",)),
    BadCase("dockerfile-climbs-out",
            _put(*_ORTHANC, "dockerfile", value="../../../../../../../../etc/passwd"),
            "images.orthanc.dockerfile", ("leads outside",)),
    BadCase("alias-bomb", _text(_ALIAS_BOMB), ":2:", ("aliases",)),
    BadCase("key-not-a-string", _text("namespace: x\ntag: t\n? [a]\n: 1\n"), ":3:",
            ("keys must be strings",)),
    BadCase("image-named-a-number", _text(
        "namespace: x\ntag: t\nimages:\n  5: {context: images/orthanc}\n"), ":4:",
            ("keys must be strings",)),
    BadCase("tag-not-ascii", _put("tag", value="lätest"), "tag", ("'lätest'",)),
    BadCase("namespace-over-255", _put("namespace", value="a" * 256), "namespace",
            ("longer than 255",)),
    BadCase("secret-looking-build-arg", _put(*_ORTHANC, "args", value={"DB_PASSWORD": "x"}),
            "images.orthanc.args.DB_PASSWORD", ("looks like a secret", "secrets")),
    BadCase("download-with-userinfo", _put(*_ORTHANC, "downloads", value={
        "a.zip": "https://user:pass@example.org/a.zip"}), "images.orthanc.downloads.a.zip.url",
            ("carries a user or password",)),
    BadCase("download-host-dot-dot", _put(*_ORTHANC, "downloads", value={
        "a.zip": "https://../etc/hostname"}), "images.orthanc.downloads.a.zip.url",
            ("has no valid host name",)),
    BadCase("download-encoded-dot-dot", _put(*_ORTHANC, "downloads", value={
        "a.zip": "https://example.org/%2e%2e/%2e%2e/etc/hostname"}),
            "images.orthanc.downloads.a.zip.url", ("has . or .. segments",)),
    BadCase("parity-path-with-escapes", _put(*_ORTHANC, "parity", value={
        "paths": ["/usr/share/\x1b[31m"]}), "images.orthanc.parity.paths",
            ("is not an absolute path",)),
    BadCase("matrix-over-1-mib", _text("# " + "x" * (1 << 20) + "\nnamespace: x\n"), "",
            ("larger than 1024 KiB",)),
)

BAD_CASES: tuple[BadCase, ...] = (
    BadCase("yaml-syntax-error", _text(_YAML_ERROR_ON_LINE_6), ":6:", ("invalid YAML",)),
    BadCase("document-is-a-list", _text("- orthanc\n- diana\n"), "",
            ("must be a mapping", "a list")),
    BadCase("document-is-a-scalar", _text("just some text\n"), "", ("must be a mapping", "a str")),
    BadCase("document-is-empty", _text(""), "", ("must be a mapping", "nothing")),
    BadCase("document-not-utf8", _text(_LATIN1_COMMENT), ""),
    BadCase("namespace-missing", lambda d: {k: v for k, v in d.items() if k != "namespace"},
            "namespace", ("required",)),
    BadCase("namespace-with-space", _put("namespace", value="Derek Merck"), "namespace",
            ("'Derek Merck'",)),
    BadCase("namespace-uppercase", _put("namespace", value="UPPER"), "namespace", ("'UPPER'",)),
    BadCase("namespace-trailing-slash", _put("namespace", value="derekmerck/"), "namespace"),
    BadCase("namespace-bad-host", _put("namespace", value="-bad.io/team"), "namespace",
            ("registry host",)),
    BadCase("tag-leading-dash", _put("tag", value="-bad"), "tag", ("'-bad'",)),
    BadCase("tag-129-chars", _put("tag", value="a" * 129), "tag"),
    BadCase("tag-too-long-with-arch", _put("tag", value="a" * 125), "tag", ("too long",)),
    BadCase("tag-not-a-string", _put("tag", value=["latest"]), "tag", ("non-empty string",)),
    BadCase("images-not-a-mapping", _put("images", value=["orthanc"]), "images",
            ("must map image names", "a list")),
    BadCase("images-missing", lambda d: {k: v for k, v in d.items() if k != "images"}, "images"),
    BadCase("images-empty", _put("images", value={}), "images", ("is empty",)),
    BadCase("unknown-top-level-key", _rename("architectures", "architecures"), "architecures",
            ("unknown key", "(did you mean 'architectures'?)")),
    BadCase("unknown-image-key", _put(*_ORTHANC, "architecures", value=["amd64"]),
            "images.orthanc.architecures", ("unknown key", "(did you mean 'architectures'?)")),
    BadCase("unknown-arch", _put("architectures", value=["amd64", "arm64"]), "architectures",
            ("unknown architecture 'arm64'", "(did you mean 'arm64v8'?)",
             "amd64, arm32v7, arm64v8, i386, arm32v6, ppc64le, s390x, riscv64")),
    BadCase("unknown-image-arch", _put(*_ORTHANC, "architectures", value=["amd64", "sparc"]),
            "images.orthanc.architectures", ("unknown architecture 'sparc'", "riscv64")),
    BadCase("architectures-empty", _put("architectures", value=[]), "architectures",
            ("non-empty list",)),
    BadCase("architectures-not-a-list", _put("architectures", value="amd64"), "architectures",
            ("non-empty list",)),
    BadCase("duplicate-arch", _put("architectures", value=["amd64", "arm64v8", "amd64"]),
            "architectures", ("'amd64' is listed twice",)),
    BadCase("duplicate-arch-two-spellings",
            _put("architectures", value=["arm64v8", "linux/arm64"]), "architectures",
            ("'arm64v8' is listed twice",)),
    BadCase("invalid-image-name", _put("images", "Orthanc", value={"context": "images/Orthanc"}),
            "images.Orthanc", ("not a valid image name",)),
    BadCase("image-not-a-mapping", _put(*_ORTHANC, value="images/orthanc"), "images.orthanc",
            ("must be a mapping",)),
    BadCase("unknown-parent", _put(*_PLUGINS, "from", value="orthnc"),
            "images.orthanc-plugins.from",
            ("unknown parent 'orthnc'", "(did you mean 'orthanc'?)")),
    BadCase("parent-not-a-name", _put(*_PLUGINS, "from", value=["orthanc"]),
            "images.orthanc-plugins.from"),
    BadCase("dependency-cycle", _put(*_ORTHANC, "from", value="orthanc-plugins"), "images",
            ("dependency cycle", "orthanc -> orthanc-plugins", "->")),
    BadCase("parent-is-itself", _put(*_ORTHANC, "from", value="orthanc"), "images",
            ("dependency cycle", "orthanc -> orthanc")),
    BadCase("child-arch-parent-lacks",
            _edits(_put(*_ORTHANC, "architectures", value=["amd64"]),
                   _put(*_PLUGINS, "architectures", value=["amd64", "arm64v8"])),
            "images.orthanc-plugins.architectures", ("arm64v8", "'orthanc'")),
    BadCase("context-missing-key", _put(*_ORTHANC, value={"architectures": ["amd64"]}),
            "images.orthanc.context", ("required",)),
    BadCase("context-folder-missing", _same,
            "images.orthanc.context", ("'images/orthanc'", "does not exist"),
            (("without_context", ("orthanc",)),)),
    BadCase("dockerfile-missing", _same,
            "images.orthanc.dockerfile", ("Dockerfile", "does not exist"),
            (("without_dockerfile", ("orthanc",)),)),
    BadCase("custom-dockerfile-missing", _put(*_ORTHANC, "dockerfile", value="Dockerfile.alt"),
            "images.orthanc.dockerfile", ("Dockerfile.alt", "does not exist"),
            (("without_dockerfile", ("orthanc",)),)),
    BadCase("child-not-from-parent", _same,
            "images.orthanc-plugins.from", ("FROM derekmerck/orthanc:latest",),
            (("dockerfiles", {"orthanc-plugins": "FROM debian:bookworm-slim\n"}),)),
    BadCase("child-from-parent-other-tag", _same,
            "images.orthanc-plugins.from", ("FROM derekmerck/orthanc:latest",),
            (("dockerfiles", {"orthanc-plugins": "FROM derekmerck/orthanc:1.12\n"}),)),
    BadCase("child-dockerfile-not-utf8", _same,
            "images.orthanc-plugins.dockerfile",
            (),
            (("dockerfiles", {"orthanc-plugins": b"FROM derekmerck/orthanc:latest\n# \xff\n"}),)),
    BadCase("build-args-not-a-mapping", _put(*_ORTHANC, "args", value=["FOO=1"]),
            "images.orthanc.args", ("must be a mapping", "a list")),
    BadCase("build-arg-nested", _put(*_ORTHANC, "args", value={"FOO": {"a": 1}}),
            "images.orthanc.args.FOO", ("must be a string or number", "a dict")),
    BadCase("build-arg-null", _put(*_ORTHANC, "args", value={"FOO": None}),
            "images.orthanc.args.FOO", ("must be a string or number",)),
    BadCase("build-arg-invalid-name", _put(*_ORTHANC, "args", value={"FOO-BAR": "1"}),
            "images.orthanc.args.FOO-BAR", ("not a valid build-arg name",)),
    BadCase("arch-args-not-a-mapping", _put(*_ORTHANC, "arch_args", value=["amd64"]),
            "images.orthanc.arch_args", ("must map an architecture",)),
    BadCase("arch-args-unknown-arch", _put(*_ORTHANC, "arch_args", value={"sparc": {"A": 1}}),
            "images.orthanc.arch_args", ("unknown architecture 'sparc'",)),
    BadCase("arch-args-arch-not-built",
            _edits(_put(*_ORTHANC, "architectures", value=["amd64", "arm64v8"]),
                   _put(*_ORTHANC, "arch_args", value={"arm32v7": {"A": "1"}})),
            "images.orthanc.arch_args.arm32v7", ("'orthanc' is not built for arm32v7",)),
    BadCase("arch-args-nested",
            _put(*_ORTHANC, "arch_args", value={"amd64": {"A": ["x"]}}),
            "images.orthanc.arch_args.amd64.A", ("must be a string or number",)),
    BadCase("parity-not-a-mapping", _put(*_ORTHANC, "parity", value=["/usr/share"]),
            "images.orthanc.parity", ("must be a mapping with paths and allow", "a list")),
    BadCase("parity-unknown-key", _put(*_ORTHANC, "parity", value={"path": ["/usr/share"]}),
            "images.orthanc.parity.path", ("unknown key", "(did you mean 'paths'?)")),
    BadCase("parity-paths-not-a-list", _put(*_ORTHANC, "parity", value={"paths": "/usr"}),
            "images.orthanc.parity.paths", ("must be a list of at most 16 folders",)),
    BadCase("parity-path-relative", _put(*_ORTHANC, "parity", value={"paths": ["usr/share"]}),
            "images.orthanc.parity.paths", ("'usr/share' is not an absolute path",)),
    BadCase("parity-path-dot-dot", _put(*_ORTHANC, "parity", value={
        "paths": ["/usr/../etc"]}), "images.orthanc.parity.paths",
            ("'/usr/../etc': name a folder below /, without '.', '..' or '//'",)),
    BadCase("parity-path-root", _put(*_ORTHANC, "parity", value={"paths": ["/"]}),
            "images.orthanc.parity.paths", ("name a folder below /",)),
    BadCase("parity-allow-unknown-arch", _put(*_ORTHANC, "parity", value={
        "allow": {"arm64": ["libfoo"]}}), "images.orthanc.parity.allow.arm64",
            ("unknown architecture 'arm64' (did you mean 'arm64v8'?); known: amd64",)),
    BadCase("parity-allow-not-a-list", _put(*_ORTHANC, "parity", value={
        "allow": {"amd64": "libfoo"}}), "images.orthanc.parity.allow.amd64",
            ("must be a list of 1 to 256 package names or paths",)),
    BadCase("parity-allow-not-a-name", _put(*_ORTHANC, "parity", value={
        "allow": {"amd64": ["lib foo"]}}), "images.orthanc.parity.allow.amd64",
            ("'lib foo' is neither a package name nor an absolute path",)),
    BadCase("parity-allow-path-outside-paths", _put(*_ORTHANC, "parity", value={
        "paths": ["/opt/dcm4chee"], "allow": {"amd64": ["/opt/dcm4chee-old/x.so"]}}),
            "images.orthanc.parity.allow.amd64",
            ("'/opt/dcm4chee-old/x.so' is not under any folder of parity.paths "
             "(/opt/dcm4chee)",)),
    BadCase("parity-allow-path-dot-dot", _put(*_ORTHANC, "parity", value={
        "paths": ["/opt"], "allow": {"amd64": ["/opt/../etc/passwd"]}}),
            "images.orthanc.parity.allow.amd64", ("without '.', '..'",)),
    *HOSTILE_CASES,
)


@pytest.fixture(params=[pytest.param(case, id=case.id) for case in BAD_CASES])
def bad_matrix(request: pytest.FixtureRequest, tmp_path: Path,
               matrix_doc: dict[str, Any]) -> tuple[Path, str, tuple[str, ...]]:
    """(matrix path, key the message must name, other fragments it must contain)."""
    case: BadCase = request.param
    doc = case.doc(copy.deepcopy(matrix_doc))
    path = write_matrix_file(tmp_path, doc, **dict(case.options))
    return path, case.key, case.fragments


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each parser's slowest example this run, against the bound (tests/unit/bounds.py)."""
    if not SLOWEST:
        return
    terminalreporter.section(f"slowest example per parser (bound {BOUND_SECONDS:.0f} s)")
    for parser, (seconds, test) in sorted(SLOWEST.items()):
        terminalreporter.write_line(f"{parser:<28} {seconds * 1000:9.1f} ms  {test}")
    for line in FIGURES:
        terminalreporter.write_line(line)
