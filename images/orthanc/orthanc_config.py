#!/usr/bin/env python3
"""Write Orthanc's JSON configuration for a container, the way the osimis/orthanc images do.

Sources, each deep-merged over the previous ones (objects merge key by key,
anything else -- lists included -- is replaced):

0. CONTAINER_DEFAULTS below;
1. ``/etc/orthanc/*.json`` in name order (comments allowed, as Orthanc allows them);
2. ``/run/secrets/*.json`` in name order;
3. environment variables ``ORTHANC__SECTION__KEY_NAME`` -> ``{"Section": {"KeyName": value}}``;
4. ``ORTHANC_JSON``: a whole JSON document;
5. Docker secrets named like a variable, e.g. ``/run/secrets/ORTHANC__POSTGRESQL__PASSWORD``.

Values of variables and variable-named secrets are parsed as JSON when they parse
(``8042``, ``true``, ``["a"]``), else kept as strings.  A ``DicomModalities`` entry
given as a string ``AET,HOST,PORT`` (``ORTHANC__DICOM_MODALITIES__PACS=PACS,10.0.0.1,11112``)
becomes Orthanc's ``["AET", "HOST", PORT]``.  Then ``AuthenticationEnabled`` gets a
default and ``Plugins`` is computed from PLUGINS (see ``resolve_plugins``).

CLI: ``orthanc_config.py [--output FILE]`` writes the configuration (mode 0600) and
prints the extra Orthanc command-line flags, one per line.  Any bad input gives one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROG = "orthanc-config"
EXIT_BAD_INPUT = 2

ETC_DIR = Path("/etc/orthanc")
SECRETS_DIR = Path("/run/secrets")
PLUGINS_DIR = Path("/usr/share/orthanc/plugins")
DEFAULT_OUTPUT = Path("/run/orthanc/orthanc.json")

VAR_PREFIX = "ORTHANC__"
JSON_VAR = "ORTHANC_JSON"
VERBOSE_STARTUP_VAR = "VERBOSE_STARTUP"
PLUGIN_VAR_SUFFIX = "_PLUGIN_ENABLED"

JsonObject = dict[str, Any]

# Lowest layer: container settings for whatever the other sources leave unsaid.
# Debian's orthanc.json is written for a host service (localhost only, db-v6
# directory); the Dockerfile re-targets that file rather than overriding it
# here, so that an orthanc.json of the user's still has the last word.
CONTAINER_DEFAULTS: JsonObject = {
    "RemoteAccessAllowed": True,
    "StorageDirectory": "/var/lib/orthanc/db",
    "IndexDirectory": "/var/lib/orthanc/db",
    "HttpsCACertificates": "/etc/ssl/certs/ca-certificates.crt",
}

# Key names the capitalisation rule cannot produce (acronyms kept upper case).
NAME_EXCEPTIONS: Mapping[str, str] = {
    "AET": "AET",  # "DicomModalities" entries in object form
    "CASE_SENSITIVE_PN": "CaseSensitivePN",
    "HTTPS_CA_CERTIFICATES": "HttpsCACertificates",
    "MYSQL": "MySQL",
    "POSTGRESQL": "PostgreSQL",
    "STORE_MD5_FOR_ATTACHMENTS": "StoreMD5ForAttachments",
}

FLAG_VARS: Mapping[str, str] = {
    "VERBOSE_ENABLED": "--verbose",
    "TRACE_ENABLED": "--trace",
    "NO_JOBS": "--no-jobs",
    # Read by the database plugins of some Orthanc releases; Orthanc 1.12 itself
    # only logs it as an unsupported option.
    "UNLOCK": "--unlock",
}

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0", ""})

MASK = "***"
SECRET_KEY = re.compile(r"password|passwd|passphrase|secret|token|key|credentials",
                        re.IGNORECASE)
URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^/@\s]+@")
# Credentials inside a value: URL query parameters (`?token=`, `&sig=`, `sslpassword=`),
# connection-string pairs (Azure's `AccountKey=`, `SharedAccessSignature=`), libpq's
# `password=` keyword.
SECRET_IN_VALUE = (
    re.compile(r"([?&;][^=&;\s]*(?:token|passw|secret|key|sig|auth|code)[^=&;\s]*=)[^&;#\s]+",
               re.IGNORECASE),
    re.compile(r"((?:^|;)\s*(?:AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)"
               r"\s*=)[^;]+", re.IGNORECASE),
    re.compile(r"(\bpassword\s*=\s*)(?:'[^']*'|\S+)", re.IGNORECASE),
)
# Every value under these keys is a credential (header values: Authorization, Cookie, ...).
ALL_SECRET = frozenset({"HttpHeaders", "RegisteredUsers"})
# Sections whose entries may be ["url", "user", "password", ...] lists.
PEER_SECTIONS = frozenset({"OrthancPeers", "Servers"})

_LEVEL = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Plugin:
    """An Orthanc plugin from Debian's packages; ``<NAME>_PLUGIN_ENABLED`` switches it."""

    # Top-level key whose presence in the configuration enables the plugin.
    section: str | None
    libraries: tuple[str, ...]
    enabled_by_default: bool = False
    # Merged under the plugin's section when the plugin is loaded.
    defaults: JsonObject = field(default_factory=dict)


# Database plugins are off by default: they fail at start-up without a database.
# Worklists, ServeFolders, Housekeeper, DelayedDeletion and MultitenantDicom ship
# with the orthanc package itself; they do nothing until configured, so they stay
# off until asked for.
PLUGINS: Mapping[str, Plugin] = {
    "DICOM_WEB": Plugin("DicomWeb", ("libOrthancDicomWeb.so",), True, {"Enable": True}),
    "GDCM": Plugin("Gdcm", ("libOrthancGdcm.so",), True),
    "ORTHANC_WEB_VIEWER": Plugin("WebViewer", ("libOrthancWebViewer.so",), True),
    "POSTGRESQL": Plugin(
        "PostgreSQL",
        ("libOrthancPostgreSQLIndex.so", "libOrthancPostgreSQLStorage.so"),
        defaults={"EnableIndex": True},
    ),
    "MYSQL": Plugin(
        "MySQL",
        ("libOrthancMySQLIndex.so", "libOrthancMySQLStorage.so"),
        defaults={"EnableIndex": True},
    ),
    "PYTHON": Plugin("PythonScript", ("libOrthancPython.so",)),
    "WSI": Plugin(None, ("libOrthancWSI.so",)),
    "NEURO": Plugin(None, ("libOrthancNeuro.so",)),
    "WORKLISTS": Plugin(
        "Worklists",
        ("libModalityWorklists.so",),
        defaults={"Enable": True, "Database": "/var/lib/orthanc/worklists"},
    ),
    "SERVE_FOLDERS": Plugin("ServeFolders", ("libServeFolders.so",)),
    # Shipped with Debian 13's orthanc package (Orthanc 1.11 and 1.12); each needs its
    # section's "Enable" to do anything.
    "HOUSEKEEPER": Plugin("Housekeeper", ("libHousekeeper.so",), defaults={"Enable": True}),
    "DELAYED_DELETION": Plugin("DelayedDeletion", ("libDelayedDeletion.so",),
                               defaults={"Enable": True}),
    "MULTITENANT_DICOM": Plugin("MultitenantDicom", ("libMultitenantDicom.so",)),
}


class ConfigError(Exception):
    """Bad input; the message is one line that names the variable or file."""


# --- JSON with comments ------------------------------------------------------


def strip_comments(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments outside strings, keeping line numbers."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated /* comment")
            out.append(re.sub(r"[^\n]", " ", text[i : end + 2]))
            i = end + 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """Index just past the JSON string opening at ``start`` (or the end of text)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def parse_json_object(text: str, source: str) -> JsonObject:
    try:
        value = json.loads(strip_comments(text))
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ConfigError(f"{source}: invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot read: {reason}") from None


# --- merging, names and values -----------------------------------------------


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> JsonObject:
    """A new object: ``override`` over ``base``, objects merged recursively."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def level_to_key(level: str) -> str:
    """``DICOM_WEB`` -> ``DicomWeb``, unless NAME_EXCEPTIONS knows better."""
    exception = NAME_EXCEPTIONS.get(level.upper())
    if exception is not None:
        return exception
    return "".join(word[:1].upper() + word[1:].lower() for word in level.split("_"))


def key_path(name: str, source: str | None = None) -> list[str]:
    """``ORTHANC__DICOM_WEB__ROOT`` -> ``["DicomWeb", "Root"]``; errors name ``source``."""
    levels = name[len(VAR_PREFIX) :].split("__")
    if not all(_LEVEL.fullmatch(level) for level in levels):
        raise ConfigError(
            f"{source or name}: malformed name, expected ORTHANC__SECTION__KEY_NAME "
            "with non-empty levels of letters and digits separated by '__'"
        )
    return [level_to_key(level) for level in levels]


def parse_value(raw: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, objects), else the string itself."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON: Orthanc would refuse them.
    raise ValueError(f"not JSON: {name}")


def nest(path: Sequence[str], value: Any) -> JsonObject:
    result: JsonObject = {path[-1]: value}
    for key in reversed(path[:-1]):
        result = {key: result}
    return result


def parse_bool(env: Mapping[str, str], name: str) -> bool | None:
    """None when the variable is unset; an empty value counts as false."""
    raw = env.get(name)
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


# --- sources -----------------------------------------------------------------


def json_files_layer(directory: Path) -> JsonObject:
    merged: JsonObject = {}
    if directory.is_dir():
        for path in sorted(p for p in directory.glob("*.json") if p.is_file()):
            merged = deep_merge(merged, parse_json_object(read_text(path), str(path)))
    return merged


def variable_layer(name: str, raw: str, source: str) -> JsonObject:
    return nest(key_path(name, source), parse_value(raw))


def env_layer(env: Mapping[str, str]) -> JsonObject:
    merged: JsonObject = {}
    for name in sorted(k for k in env if k.startswith(VAR_PREFIX)):
        merged = deep_merge(merged, variable_layer(name, env[name], name))
    return merged


def json_var_layer(env: Mapping[str, str]) -> JsonObject:
    raw = env.get(JSON_VAR, "")
    return parse_json_object(raw, JSON_VAR) if raw.strip() else {}


def secret_vars_layer(directory: Path) -> JsonObject:
    if not directory.is_dir():
        return {}
    files = [
        p
        for p in directory.iterdir()
        if p.name.startswith(VAR_PREFIX) and p.suffix != ".json" and p.is_file()
    ]
    merged: JsonObject = {}
    for path in sorted(files):
        layer = variable_layer(path.name, read_text(path).strip(), str(path))
        merged = deep_merge(merged, layer)
    return merged


def merge_sources(env: Mapping[str, str], etc_dir: Path, secrets_dir: Path) -> JsonObject:
    config = copy.deepcopy(CONTAINER_DEFAULTS)
    for layer in (
        json_files_layer(etc_dir),
        json_files_layer(secrets_dir),
        env_layer(env),
        json_var_layer(env),
        secret_vars_layer(secrets_dir),
    ):
        config = deep_merge(config, layer)
    return config


# --- DICOM modalities ----------------------------------------------------------

MODALITIES = "DicomModalities"
MAX_AET_LENGTH = 16  # DICOM's limit for an application entity title


def parse_modality(text: str, source: str) -> list[Any]:
    """``"PACS,10.0.0.1,11112"`` -> ``["PACS", "10.0.0.1", 11112]``."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"{source}: expected AET,HOST,PORT, got {text!r}")
    aet, host, port = parts
    if len(aet) > MAX_AET_LENGTH:
        raise ConfigError(f"{source}: AET {aet!r} is longer than {MAX_AET_LENGTH} characters")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{source}: port must be a number from 1 to 65535, got {port!r}")
    return [aet, host, int(port)]


def expand_modalities(config: JsonObject) -> JsonObject:
    """``DicomModalities`` entries written as ``AET,HOST,PORT`` strings, made Orthanc's lists."""
    modalities = config.get(MODALITIES)
    if not isinstance(modalities, dict):
        return config
    expanded = {
        name: parse_modality(entry, f"{MODALITIES}.{name}") if isinstance(entry, str) else entry
        for name, entry in modalities.items()
    }
    return {**config, MODALITIES: expanded}


# --- plugins -----------------------------------------------------------------


def plugin_enabled(
    name: str, plugin: Plugin, config: Mapping[str, Any], env: Mapping[str, str]
) -> bool:
    """An explicit ``<NAME>_PLUGIN_ENABLED`` wins, then the section's presence, then the default."""
    explicit = parse_bool(env, f"{name}{PLUGIN_VAR_SUFFIX}")
    if explicit is not None:
        return explicit
    if plugin.section is not None and plugin.section in config:
        return True
    return plugin.enabled_by_default


def _is_managed(entry: str, plugins_dir: Path) -> bool:
    path = os.path.normpath(entry)
    root = os.path.normpath(plugins_dir)
    return path == root or path.startswith(root + os.sep)


def _user_plugins(config: Mapping[str, Any], plugins_dir: Path) -> list[str]:
    """Entries of ``Plugins`` outside the managed directory (e.g. a custom plugin).

    Entries inside it, like Debian's ``/usr/share/orthanc/plugins/``, would load
    every installed plugin: PLUGINS decides about those instead.
    """
    entries = config.get("Plugins", [])
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ConfigError("Plugins: expected a list of paths")
    return [e for e in entries if not _is_managed(e, plugins_dir)]


def _warn_unknown_plugins(env: Mapping[str, str]) -> None:
    known = {f"{name}{PLUGIN_VAR_SUFFIX}" for name in PLUGINS}
    for name in sorted(env):
        if name.endswith(PLUGIN_VAR_SUFFIX) and name not in known:
            warn(f"{name}: no such plugin in this image (known: {', '.join(PLUGINS)})")


def resolve_plugins(config: JsonObject, env: Mapping[str, str], plugins_dir: Path) -> JsonObject:
    """Set ``Plugins`` to the installed libraries of the enabled plugins."""
    _warn_unknown_plugins(env)
    paths = _user_plugins(config, plugins_dir)
    for name, plugin in PLUGINS.items():
        if not plugin_enabled(name, plugin, config, env):
            continue
        libraries = [plugins_dir / library for library in plugin.libraries]
        missing = ", ".join(str(lib) for lib in libraries if not lib.exists())
        if missing:
            # Only an explicit request deserves a warning: the plain orthanc
            # image lacks the default-on plugins on purpose.
            if parse_bool(env, f"{name}{PLUGIN_VAR_SUFFIX}"):
                warn(f"{name}{PLUGIN_VAR_SUFFIX}: not installed in this image: {missing}")
            continue
        paths.extend(str(lib) for lib in libraries)
        if plugin.section is not None and plugin.defaults:
            config = deep_merge({plugin.section: plugin.defaults}, config)
    return {**config, "Plugins": paths}


# --- the whole ---------------------------------------------------------------


def build_config(
    env: Mapping[str, str],
    etc_dir: Path = ETC_DIR,
    secrets_dir: Path = SECRETS_DIR,
    plugins_dir: Path = PLUGINS_DIR,
) -> JsonObject:
    config = expand_modalities(merge_sources(env, etc_dir, secrets_dir))
    # Orthanc itself would switch authentication on, with a default user, when
    # remote access is allowed: a container without users is meant to be open.
    config.setdefault("AuthenticationEnabled", bool(config.get("RegisteredUsers")))
    return resolve_plugins(config, env, plugins_dir)


def orthanc_flags(env: Mapping[str, str]) -> list[str]:
    return [flag for name, flag in FLAG_VARS.items() if parse_bool(env, name)]


def mask_secrets(value: Any) -> Any:
    """A copy of a configuration fit for logs: secret values replaced by MASK."""
    if isinstance(value, dict):
        return {key: _mask_entry(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        value = URL_PASSWORD.sub(rf"\g<1>{MASK}@", value)
        for pattern in SECRET_IN_VALUE:
            value = pattern.sub(rf"\g<1>{MASK}", value)
    return value


def _mask_entry(key: str, value: Any) -> Any:
    if SECRET_KEY.search(key):
        return MASK
    if key in ALL_SECRET and isinstance(value, dict):
        return dict.fromkeys(value, MASK)
    if key in PEER_SECTIONS and isinstance(value, dict):
        return {name: _mask_peer(peer) for name, peer in value.items()}
    return mask_secrets(value)


def _mask_peer(peer: Any) -> Any:
    """``["url", "user", "password"]`` -> ``["url", "user", MASK]``."""
    if isinstance(peer, list):
        return mask_secrets(peer[:2]) + [MASK] * len(peer[2:])
    return mask_secrets(peer)


def write_config(config: Mapping[str, Any], path: Path) -> None:
    """Write atomically, readable by the owner only: the file holds passwords."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Write Orthanc's configuration.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--etc-dir", type=Path, default=ETC_DIR)
    parser.add_argument("--secrets-dir", type=Path, default=SECRETS_DIR)
    parser.add_argument("--plugins-dir", type=Path, default=PLUGINS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    env = os.environ if env is None else env
    try:
        flags = orthanc_flags(env)
        config = build_config(env, args.etc_dir, args.secrets_dir, args.plugins_dir)
        verbose_startup = parse_bool(env, VERBOSE_STARTUP_VAR)
        write_config(config, args.output)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if verbose_startup:
        shown = json.dumps(mask_secrets(config), indent=2, sort_keys=True)
        print(f"{PROG}: configuration written to {args.output}:\n{shown}", file=sys.stderr)
    for flag in flags:
        print(flag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
