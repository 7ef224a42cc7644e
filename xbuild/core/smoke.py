"""Smoke tests from matrix.yml, and the sandbox every container xbuild runs to judge an image
lives in. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from xbuild.core.yamlfile import Doc, check_keys

SMOKE_KEYS = ("run", "timeout", "capabilities")
SMOKE_TIMEOUT = 600.0  # a smoke test's default; matrix.yml may set its own
MAX_TIMEOUT = 3600.0
# Capabilities a smoke test may ask for in matrix.yml (every other one stays dropped).
GRANTABLE = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Sandbox:
    """No network, every capability dropped but `capabilities`, no new privileges, memory
    and pids capped, killed after `timeout` seconds; only the last `tail` lines are kept."""

    timeout: float = 120.0
    memory: str = "2g"
    pids: int = 1024
    capabilities: tuple[str, ...] = ()
    tail: int = 200


PROBE = Sandbox(timeout=120.0, memory="256m", pids=64)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmokeTest:
    """A shell command `xbuild verify` runs in each arch's image; it must exit 0."""

    name: str
    command: str
    timeout: float = SMOKE_TIMEOUT
    capabilities: tuple[str, ...] = ()  # granted on top of none

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(timeout=self.timeout, capabilities=self.capabilities)


def parse_smoke(value: object, key: str, doc: Doc) -> tuple[SmokeTest, ...]:
    """`smoke:` maps a check name to a command, or to {run, timeout, capabilities}."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise doc.error(key, "must map a check name to a shell command")
    return tuple(_smoke_test(name, entry, f"{key}.{name}", doc) for name, entry in value.items())


def _smoke_test(name: str, entry: object, key: str, doc: Doc) -> SmokeTest:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise doc.error(key[:200], "a check name is up to 64 letters, digits, . _ -")
    if isinstance(entry, str):
        entry = {"run": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("run"), str) or not entry["run"]:
        raise doc.error(key, "must be a shell command, or a mapping with 'run' "
                             "(and optionally 'timeout' and 'capabilities')")
    check_keys(entry, SMOKE_KEYS, key, doc)
    return SmokeTest(name=name, command=entry["run"],
                     timeout=_timeout(entry.get("timeout", SMOKE_TIMEOUT), key, doc),
                     capabilities=_capabilities(entry.get("capabilities", []), key, doc))


def _timeout(value: object, key: str, doc: Doc) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 < value <= MAX_TIMEOUT:
        raise doc.error(f"{key}.timeout", f"must be seconds, more than 0, at most "
                                          f"{MAX_TIMEOUT:.0f}")
    return float(value)


def _capabilities(value: object, key: str, doc: Doc) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise doc.error(f"{key}.capabilities", "must be a list of capability names")
    names = {c.upper().removeprefix("CAP_") for c in value}
    if bad := sorted(names - GRANTABLE):
        raise doc.error(f"{key}.capabilities", f"cannot grant {', '.join(bad)[:200]}; "
                                               f"grantable: {', '.join(sorted(GRANTABLE))}")
    return tuple(sorted(names))
