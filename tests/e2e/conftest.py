"""e2e tier: the real recipes under images/, built for every arch into a local registry.

Selected with `pytest -m e2e` (the default run deselects it): about 20 minutes on 2 cores.
"""

from tests.support.engine import engine, registry

__all__ = ["engine", "registry"]  # shared fixtures, re-exported for pytest
