"""The time and memory bound every parser of untrusted input keeps, and how tests measure it.

The bound: any input of up to 1 MiB is parsed (into a result or one of xbuild's own errors)
within 1 s and 100 MB. Property tests time every call with `timed`, which keeps each parser's
slowest example for the run's summary (tests/unit/conftest.py prints it) and asserts five times
the bound, so a loaded CI machine does not fail a test the parser passes. The worst cases built
on purpose measure their memory with `peak_bytes` (tracemalloc: what Python allocates, which
includes every object a parser builds) and assert the bound itself.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MAX_INPUT = 1 << 20
BOUND_SECONDS = 1.0
BOUND_BYTES = 100 << 20
ASSERTED_SECONDS = 5 * BOUND_SECONDS
SLOWEST: dict[str, tuple[float, str]] = {}  # parser -> (seconds, the test that took them)
FIGURES: list[str] = []  # other measurements a test reports (e.g. growth with input size)


def timed(parser: str, call: Callable[[], T], *, test: str = "") -> T:
    """`call()`, timed into `SLOWEST[parser]`; fails past ASSERTED_SECONDS (raised or not)."""
    start = time.perf_counter()
    try:
        return call()
    finally:
        elapsed = time.perf_counter() - start
        if elapsed > SLOWEST.get(parser, (0.0, ""))[0]:
            SLOWEST[parser] = (elapsed, repr(test) if test else _current_test())
        assert elapsed < ASSERTED_SECONDS, f"{parser}: {elapsed:.2f} s on one input"


def peak_bytes(call: Callable[[], object]) -> int:
    """The most memory Python held at once during `call()` (exceptions are the caller's)."""
    tracemalloc.start()
    try:
        call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def within_bounds(parser: str, call: Callable[[], T], *, test: str) -> T:
    """`call()` timed (`timed`), then run again under tracemalloc (which slows it 3 to 5x, so
    apart from the timing) and held to BOUND_BYTES. `call` catches the errors it expects."""
    result = timed(parser, call, test=test)
    peak = peak_bytes(call)
    assert peak < BOUND_BYTES, f"{parser}: {peak / 1e6:.0f} MB on one input ({test})"
    return result


def _current_test() -> str:
    """The running test's name and parameters, as pytest sets them for the process."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0].rpartition("::")[2]
