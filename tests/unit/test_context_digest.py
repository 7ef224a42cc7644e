"""The build-context digest: which entries count (fsutil's walk) and what changes the digest."""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xbuild.core import context_digest as cd
from xbuild.core.context_digest import (
    ContextError,
    context_digest,
    context_entries,
    ignore_file,
)

Tree = dict[str, "str | bytes | None"]  # None: a directory; "-> x": a symlink to x


def build(root: Path, tree: Tree) -> Path:
    """Write `tree` under `root` in the order given, with fixed modes (umask plays no part)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
            path.chmod(0o755)
        elif isinstance(content, str) and content.startswith("-> "):
            path.symlink_to(content[3:])
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
            path.chmod(0o644)
    return root


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return tmp_path / "ctx"


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    """A Dockerfile outside the context, so that only the tree under test is in it."""
    path = tmp_path / "df" / "Dockerfile"
    path.parent.mkdir()
    path.write_text("FROM scratch\nCOPY . /\n")
    return path


def ignore(dockerfile: Path, text: str) -> None:
    dockerfile.with_name("Dockerfile.dockerignore").write_text(text)


def paths(ctx: Path, dockerfile: Path) -> list[tuple[str, str]]:
    return [(e.path, e.kind) for e in context_entries(ctx, dockerfile=dockerfile)]


def digest(ctx: Path, dockerfile: Path) -> str:
    return context_digest(ctx, dockerfile=dockerfile)


# --- which entries: tonistiigi/fsutil filter_test.go and the walk rules -----------------------

def test_fsutil_walker_exclude(ctx: Path, dockerfile: Path) -> None:
    # fsutil TestWalkerExclude: "foo*", "!foo/bar2" sends the excluded dir foo for foo/bar2.
    build(ctx, {"bar": "", "foo": None, "foo2": "", "foo/bar2": ""})
    ignore(dockerfile, "foo*\n!foo/bar2\n")
    assert paths(ctx, dockerfile) == [("bar", "file"), ("foo", "dir"), ("foo/bar2", "file")]


def test_walk_order_is_byte_order_per_directory(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"a.b": "", "a/x": "", "a-b": "", "B": "", "a/x y": "", "é": "", "z": ""})
    (ctx / os.fsdecode(b"\xff")).write_bytes(b"")  # sorts after "\ufffd" in bytes, before in str
    (ctx / "\ufffd").write_bytes(b"")
    assert [p for p, _ in paths(ctx, dockerfile)] == [
        "B", "a", "a/x", "a/x y", "a-b", "a.b", "z", "é", "\ufffd", os.fsdecode(b"\xff")]


def test_nothing_ignored_sends_everything(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"d": None, "d/e": None, "d/e/f": "x", "l": "-> d/e/f", "Dockerfile": "FROM x"})
    assert paths(ctx, dockerfile) == [
        ("Dockerfile", "file"), ("d", "dir"), ("d/e", "dir"), ("d/e/f", "file"), ("l", "symlink")]


def test_excluded_dirs_are_sent_only_for_reincluded_entries(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"a/b/keep": "", "a/b/drop": "", "a/c/drop": "", "a/top": "", "x/y/z": ""})
    ignore(dockerfile, "a\nx\n!**/keep\n")
    assert paths(ctx, dockerfile) == [("a", "dir"), ("a/b", "dir"), ("a/b/keep", "file")]


def test_exception_reincludes_a_whole_dir(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"docs/a.md": "", "docs/keep/b.md": "", "docs/keep/c/d.md": ""})
    ignore(dockerfile, "docs\n!docs/keep\ndocs/keep/c/d.md\n")
    assert paths(ctx, dockerfile) == [
        ("docs", "dir"), ("docs/keep", "dir"), ("docs/keep/b.md", "file"), ("docs/keep/c", "dir")]


def test_symlinks_are_not_followed(ctx: Path, dockerfile: Path, tmp_path: Path) -> None:
    build(tmp_path / "outside", {"secret": "s", "sub/f": "f"})
    build(ctx, {"dir-link": f"-> {tmp_path / 'outside'}", "file-link": "-> ../outside/secret"})
    entries = list(context_entries(ctx, dockerfile=dockerfile))
    assert [(e.path, e.kind, e.target, e.mode) for e in entries] == [
        ("dir-link", "symlink", str(tmp_path / "outside"), 0o777),
        ("file-link", "symlink", "../outside/secret", 0o777)]
    before = digest(ctx, dockerfile)
    (tmp_path / "outside" / "secret").write_text("changed")
    assert digest(ctx, dockerfile) == before


def test_a_symlink_to_a_dir_is_matched_as_a_file(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"real/f": "", "link": "-> real"})
    ignore(dockerfile, "real\n!link/f\n")
    assert paths(ctx, dockerfile) == [("link", "symlink")]


def _listing(monkeypatch: pytest.MonkeyPatch, deny: Path | None = None) -> list[str]:
    """Record the directories os.scandir lists; refuse `deny` as an unreadable one."""
    listed: list[str] = []
    real = os.scandir

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        listed.append(os.fspath(path))
        if deny is not None and Path(path) == deny:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return listed


@pytest.mark.parametrize(("rules", "walked"), [
    pytest.param("node_modules\n", False, id="no-exception"),
    pytest.param("node_modules\n!src/keep\n", False, id="exception-elsewhere"),
    pytest.param("node_modules\n!node_modules/keep\n", True, id="exception-inside"),
    pytest.param("node_modules\n!**/keep\n", True, id="wildcard-exception"),
])
def test_excluded_dir_is_walked_only_when_an_exception_could_match(
        ctx: Path, dockerfile: Path, monkeypatch: pytest.MonkeyPatch, rules: str,
        walked: bool) -> None:
    build(ctx, {"node_modules/pkg/index.js": "", "src/main.py": ""})
    ignore(dockerfile, rules)
    listed = _listing(monkeypatch)
    assert paths(ctx, dockerfile) == [("src", "dir"), ("src/main.py", "file")]
    assert (str(ctx / "node_modules") in listed) is walked
    assert str(ctx / "src") in listed


@pytest.mark.parametrize(("rules", "expected"), [
    pytest.param("", None, id="unreadable-dir-sent"),
    pytest.param("**/bar\n", ["foo"], id="excluded"),
    pytest.param("**/bar\n!foo/bar/baz\n", ["foo"], id="walked-for-an-exception"),
    pytest.param("**/bar\n!foo/bar\n", None, id="reincluded"),
])
def test_fsutil_walker_permission_denied(ctx: Path, dockerfile: Path,
                                         monkeypatch: pytest.MonkeyPatch, rules: str,
                                         expected: list[str] | None) -> None:
    # fsutil TestWalkerPermissionDenied: foo/bar cannot be listed (simulated: tests run as root).
    build(ctx, {"foo/bar": None})
    ignore(dockerfile, rules)
    _listing(monkeypatch, deny=ctx / "foo" / "bar")
    if expected is None:
        with pytest.raises(ContextError, match=f"^{ctx / 'foo' / 'bar'}: cannot list"):
            paths(ctx, dockerfile)
    else:
        assert [p for p, _ in paths(ctx, dockerfile)] == expected


# --- which ignore file --------------------------------------------------------------------

def test_dockerfile_specific_ignore_file_wins(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {".dockerignore": "a\n", "a": "", "b": ""})
    assert ignore_file(ctx, dockerfile=dockerfile) == ctx / ".dockerignore"
    assert [p for p, _ in paths(ctx, dockerfile)] == [".dockerignore", "b"]
    ignore(dockerfile, "b\n")
    assert ignore_file(ctx, dockerfile=dockerfile) == dockerfile.with_name(
        "Dockerfile.dockerignore")
    assert [p for p, _ in paths(ctx, dockerfile)] == [".dockerignore", "a"]


def test_ignore_file_is_named_after_the_dockerfile(ctx: Path, tmp_path: Path) -> None:
    build(ctx, {"Dockerfile.prod": "", "Dockerfile.prod.dockerignore": "x*\n", "x1": "", "y": ""})
    assert [p for p, _ in paths(ctx, ctx / "Dockerfile.prod")] == [
        "Dockerfile.prod", "Dockerfile.prod.dockerignore", "y"]
    assert ignore_file(ctx, dockerfile=ctx / "Dockerfile") is None


def test_dockerfile_and_dockerignore_count_unless_ignored(ctx: Path, tmp_path: Path) -> None:
    build(ctx, {"Dockerfile": "FROM a", ".dockerignore": "", "app": ""})
    before = digest(ctx, ctx / "Dockerfile")
    (ctx / "Dockerfile").write_text("FROM b")
    assert digest(ctx, ctx / "Dockerfile") != before
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    ignored = digest(ctx, ctx / "Dockerfile")
    (ctx / "Dockerfile").write_text("FROM c")
    assert digest(ctx, ctx / "Dockerfile") == ignored
    assert [p for p, _ in paths(ctx, ctx / "Dockerfile")] == ["app"]


# --- what changes the digest ------------------------------------------------------------------

BASE: Tree = {"app/main.py": "print(1)\n", "app/lib": None, "run.sh": "#!/bin/sh\n",
              "link": "-> app/main.py", "logs/x.log": "1", "keep.log": "k"}
RULES = "logs\n*.log\n!keep.log\n"


@pytest.fixture
def base(ctx: Path, dockerfile: Path) -> str:
    build(ctx, BASE)
    ignore(dockerfile, RULES)
    return digest(ctx, dockerfile)


def _write(ctx: Path, rel: str, data: str) -> None:
    (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
    (ctx / rel).write_text(data)


def _relink(ctx: Path, rel: str, target: str) -> None:
    (ctx / rel).unlink()
    (ctx / rel).symlink_to(target)


CHANGES: dict[str, Callable[[Path], object]] = {
    "content": lambda c: _write(c, "app/main.py", "print(2)\n"),
    "same-size-content": lambda c: _write(c, "app/main.py", "print(3)\n"),
    "file-added": lambda c: _write(c, "app/new.py", ""),
    "empty-dir-added": lambda c: (c / "app" / "empty").mkdir(),
    "file-removed": lambda c: (c / "run.sh").unlink(),
    "renamed": lambda c: (c / "run.sh").rename(c / "run2.sh"),
    "exec-bit": lambda c: (c / "run.sh").chmod(0o755),
    "read-bits": lambda c: (c / "run.sh").chmod(0o600),
    "setuid": lambda c: (c / "run.sh").chmod(0o4644),
    "dir-mode": lambda c: (c / "app").chmod(0o700),
    "symlink-target": lambda c: _relink(c, "link", "run.sh"),
    "file-becomes-symlink": lambda c: _relink(c, "run.sh", "#!/bin/sh\n"),
    "exception-file-content": lambda c: _write(c, "keep.log", "changed"),
    "nested-file-not-matched-by-top-level-glob": lambda c: _write(c, "app/debug.log", ""),
    "ignore-rules": lambda c: _write(c, "../df/Dockerfile.dockerignore", RULES + "run.sh\n"),
}

SAME: dict[str, Callable[[Path], object]] = {
    "mtime": lambda c: os.utime(c / "app" / "main.py", (1, 1)),
    "dir-mtime": lambda c: os.utime(c / "app", (2, 2)),
    "rewrite-same-content": lambda c: _write(c, "app/main.py", "print(1)\n"),
    "ignored-file-changed": lambda c: _write(c, "logs/x.log", "2"),
    "ignored-file-added": lambda c: _write(c, "logs/deep/y.txt", "new"),
    "ignored-by-glob-added": lambda c: _write(c, "debug.log", "new"),
    "ignore-rule-reordered-same-effect": lambda c: _write(
        c, "../df/Dockerfile.dockerignore", "*.log\nlogs\n!keep.log\n# comment\n"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_digest_changes(ctx: Path, dockerfile: Path, base: str,
                        change: Callable[[Path], object]) -> None:
    change(ctx)
    assert digest(ctx, dockerfile) != base


@pytest.mark.parametrize("change", SAME.values(), ids=SAME.keys())
def test_digest_stays(ctx: Path, dockerfile: Path, base: str,
                      change: Callable[[Path], object]) -> None:
    change(ctx)
    assert digest(ctx, dockerfile) == base


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_does_not_count(ctx: Path, dockerfile: Path, base: str) -> None:
    for rel in ("app/main.py", "app", "run.sh"):
        os.chown(ctx / rel, 1234, 5678)
    os.chown(ctx / "link", 42, 42, follow_symlinks=False)
    assert digest(ctx, dockerfile) == base


def test_creation_order_does_not_count(tmp_path: Path, dockerfile: Path) -> None:
    names = [f"d{i % 7}/f{i}" for i in range(60)] + ["z", "a", "m/n/o"]
    first = build(tmp_path / "one", {n: n for n in names})
    second = build(tmp_path / "two", {n: n for n in reversed(names)})
    assert digest(first, dockerfile) == digest(second, dockerfile)


def test_context_path_does_not_count(tmp_path: Path, dockerfile: Path) -> None:
    assert digest(build(tmp_path / "x", BASE), dockerfile) == digest(
        build(tmp_path / "y" / "z", BASE), dockerfile)


def test_digest_of_a_hand_built_stream(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"a.txt": "hi\n", "d": None, "d/l": "-> ../a.txt", "run": "#!/bin/sh\n"})
    (ctx / "run").chmod(0o755)
    (ctx / "d").chmod(0o750)

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    stream = (b"xbuild context digest v1\n"
              + b"a.txt\0file\0" + b"644\0" + sha(b"hi\n").encode() + b"\0" + b"0\0"
              + b"d\0dir\0" + b"750\0" + b"\0" + b"0\0"
              + b"d/l\0symlink\0" + b"777\0" + b"../a.txt\0" + b"0\0"
              + b"run\0file\0" + b"755\0" + sha(b"#!/bin/sh\n").encode() + b"\0" + b"0\0")
    assert digest(ctx, dockerfile) == "sha256:" + sha(stream)


def test_xattrs_that_buildkit_keys_on(ctx: Path, dockerfile: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    build(ctx, {"f": ""})
    found = {"user.b": b"2", "security.selinux": b"l", "security.capability": b"c",
             "system.posix_acl_access": b"p", "com.apple.quarantine": b"q", "user.a": b"1"}
    monkeypatch.setattr(os, "listxattr", lambda path, follow_symlinks: list(found))
    monkeypatch.setattr(os, "getxattr", lambda path, name, follow_symlinks: found[name])
    [entry] = context_entries(ctx, dockerfile=dockerfile)
    assert entry.xattrs == (("security.capability", b"c"), ("user.a", b"1"), ("user.b", b"2"))
    before = digest(ctx, dockerfile)
    found["security.selinux"] = b"other"
    assert digest(ctx, dockerfile) == before
    found["user.a"] = b"changed"
    assert digest(ctx, dockerfile) != before


def test_a_real_user_xattr_counts(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"f": "x"})
    before = digest(ctx, dockerfile)
    try:
        os.setxattr(ctx / "f", "user.xbuild", b"1")
    except OSError as error:
        pytest.skip(f"no user xattrs on this filesystem: {error.strerror}")
    assert digest(ctx, dockerfile) != before


def test_special_files_are_not_opened(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"a": ""})
    os.mkfifo(ctx / "pipe", 0o600)
    assert [(e.path, e.kind, e.mode) for e in context_entries(ctx, dockerfile=dockerfile)] == [
        ("a", "file", 0o644), ("pipe", "fifo", 0o600)]
    digest(ctx, dockerfile)  # would block if the fifo were opened


# --- errors -----------------------------------------------------------------------------

def _deny_open(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    real = pathlib.Path.open

    def fake_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pathlib.Path, "open", fake_open)


def test_unreadable_included_file(ctx: Path, dockerfile: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    build(ctx, {"ok": "", "secret": "s"})
    _deny_open(monkeypatch, ctx / "secret")
    with pytest.raises(ContextError) as caught:
        digest(ctx, dockerfile)
    assert str(caught.value) == f"{ctx / 'secret'}: cannot read: Permission denied"
    assert "\n" not in str(caught.value)


def test_unreadable_ignored_file_is_never_opened(ctx: Path, dockerfile: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build(ctx, {"ok": "", "secret": "s"})
    ignore(dockerfile, "secret\n")
    _deny_open(monkeypatch, ctx / "secret")
    assert digest(ctx, dockerfile).startswith("sha256:")


def test_bad_pattern_names_the_ignore_file(ctx: Path, dockerfile: Path) -> None:
    build(ctx, {"a": ""})
    ignore(dockerfile, "ok\na[\n")
    with pytest.raises(ContextError) as caught:
        digest(ctx, dockerfile)
    assert str(caught.value) == (
        f"{dockerfile.with_name('Dockerfile.dockerignore')}: syntax error in pattern 'a['")


def test_context_must_be_a_directory(tmp_path: Path, dockerfile: Path) -> None:
    with pytest.raises(ContextError, match="not a directory"):
        digest(tmp_path / "missing", dockerfile)


def test_module_uses_only_the_standard_library() -> None:
    source = Path(cd.__file__).read_text() + Path(cd.__file__).with_name(
        "dockerignore.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "collections", "dataclasses", "enum", "errno", "hashlib",
                       "os", "pathlib", "re", "stat", "xbuild"}
    assert "from xbuild.core.dockerignore import" in source
    assert "subprocess" not in source
