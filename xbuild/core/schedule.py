"""Scheduling decisions, pure: which ready target goes first, and what a failure takes down."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from xbuild.core.plan import Plan, Target
from xbuild.core.platforms import Arch

# A build under QEMU user emulation runs about ten times slower than a native one.
EMULATION_SLOWDOWN = 10.0


def critical_path(plan: Plan, native: Collection[Arch]) -> dict[str, float]:
    """For each target, the estimated cost of the longest chain that starts with it.

    Starting the longest chains first keeps slow emulated arches from finishing last, alone.
    """
    longest: dict[str, float] = {}
    for target in reversed(plan.targets):  # children come after their parents
        own = 1.0 if target.arch in native else EMULATION_SLOWDOWN
        below = [longest[c.key] for c in plan.children_of(target)]
        longest[target.key] = own + max(below, default=0.0)
    return longest


def by_priority(ready: Collection[Target], weights: Mapping[str, float]) -> list[Target]:
    """Longest chain first; on a tie, the deeper target: a chain already begun is finished
    before another begins, so what its parents took is not left waiting for a slot."""
    return sorted(ready, key=lambda t: (-weights[t.key], -t.level, t.image, t.arch.name))


def blocked_by(target: Target, failed: Mapping[str, str]) -> str | None:
    """Why `target` cannot be built when some targets failed or were skipped, else None."""
    parent = target.parent_key
    if parent is not None and parent in failed:
        return f"parent {target.parent} x {target.arch.name} {failed[parent]}"
    return None
