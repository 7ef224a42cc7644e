"""Reading a YAML file that is input, not trusted: size-capped, no aliases, string keys only,
no key twice, and messages that name the file and key without repeating large values."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from xbuild.core.bounded_read import read_bounded
from xbuild.core.errors import MatrixError
from xbuild.core.text import printable, quoted, suggest

MAX_BYTES = 1 << 20  # far beyond any real matrix; keeps a hostile one from eating memory
# PyYAML builds a Python object per node, about 8 us each: a 1 MiB list of 500000 items took
# 4 s. Counted while the aliases are looked for, and refused before anything is built (this
# repository's matrix.yml has some 1500 events).
MAX_EVENTS = 100_000
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """Safe loading that rejects a key given twice, and any key that is not a string."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"keys must be strings (got {kind(key)}; quote it)",
                    key_node.start_mark)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {quoted(key)}", key_node.start_mark)
            keys.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class Doc:
    """Where we are in the file, for messages: `matrix.yml: images.orthanc.context: ...`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> MatrixError:
        """One line: a key is YAML's to spell (`"a\nb": 1`), so it is made printable."""
        where = f"{self.path}: {printable(key)}: " if key else f"{self.path}: "
        return MatrixError(where + message)


def kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], key: str, doc: Doc) -> None:
    for name in raw:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            raise doc.error(where[:200], f"unknown key{suggest(str(name), allowed)}; "
                                         f"known keys: {', '.join(allowed)}")


def read_yaml(path: Path, doc: Doc, *, expected: str) -> dict[str, Any]:
    """The mapping at the top of `path`; `expected` says what it should hold, for messages."""
    text = _read_text(path, doc)
    try:
        _refuse_aliases_and_bulk(text, path)
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise MatrixError(f"{where}: invalid YAML: {printable(str(exc.problem))}") from None
    except yaml.YAMLError as exc:  # e.g. a ReaderError (a control character), on two lines
        raise doc.error("", f"invalid YAML: {printable(str(exc))}") from None
    if not isinstance(raw, dict):
        raise doc.error("", f"must be a mapping of {expected}, not {kind(raw)}")
    return raw


def _read_text(path: Path, doc: Doc) -> str:
    try:
        return read_bounded(path, MAX_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise doc.error("", "no such file (pass another with -f/--matrix)") from None
    except UnicodeDecodeError as exc:
        raise doc.error("", f"not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise doc.error("", f"cannot read: {exc.strerror}") from exc


def _refuse_aliases_and_bulk(text: str, path: Path) -> None:
    """Aliases (`*name`) are refused outright: a few bytes of them expand to gigabytes. So is
    a document of more than MAX_EVENTS events (nodes, and the ends of collections)."""
    for count, event in enumerate(yaml.parse(text, Loader=_BaseLoader)):
        if count > MAX_EVENTS:
            raise MatrixError(f"{path}: more than {MAX_EVENTS} YAML nodes; not a matrix")
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise MatrixError(f"{where}: YAML aliases (*name) are not allowed in a matrix; "
                              "write the value out")
