"""What every tier shares: a time bound per test by tier, and the summary's line per tier.

- pytest-timeout fails a hung test with its name. pyproject.toml's `timeout` (60 s) bounds a
  unit test; TIMEOUTS below bound the others by marker, fixture set-up included (the first
  test of a module pays for its module's fixtures). A test may carry its own
  `@pytest.mark.timeout(N)`, which wins.
- The summary ends with one line per tier: unit, integration, harness (tests of tests/support,
  counted apart from the tests of xbuild), e2e, images; each with its outcomes and time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

import pytest

# Seconds. The slowest integration test, the CIRR stack on amd64, took 146 s alone and 284 s
# on a busy 2-core host; the slow fault run 215-407 s; e2e tests 520-1,112 s.
TIMEOUTS = {"e2e": 3600, "slow": 1800, "integration": 900}
TESTS = Path(__file__).parent
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        bound = next((seconds for marker, seconds in TIMEOUTS.items()
                      if item.get_closest_marker(marker) is not None), None)
        if bound is not None:
            item.add_marker(pytest.mark.timeout(bound))


def tier_of(path: str, keywords: Mapping[str, object]) -> str:
    """A test's tier: harness if so marked, else the folder under tests/ it lives in."""
    if "harness" in keywords:
        return "harness"
    parts = Path(path).parts
    return parts[parts.index("tests") + 1] if "tests" in parts[:-1] else "other"


class TierReport:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[tier_of(report.fspath, report.keywords)] += report.duration

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for outcome in OUTCOMES:
            for report in terminalreporter.stats.get(outcome, []):
                if isinstance(report, pytest.TestReport):
                    counts[tier_of(report.fspath, report.keywords)][outcome] += 1
        if not counts:
            return
        terminalreporter.section("tiers")
        for tier in sorted(counts, key=lambda t: -self.seconds[t]):
            said = ", ".join(f"{n} {outcome}" for outcome, n in counts[tier].items())
            terminalreporter.write_line(f"{tier}: {said} in {self.seconds[tier]:.1f} s")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TierReport(), "xbuild-tiers")
