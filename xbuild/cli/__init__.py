"""The `xbuild` command line: a thin layer over the planning core and the engine.

Each module registers its commands on the one typer app.
"""

from xbuild.cli import build, host, verify, workflow
from xbuild.cli.common import app, main

__all__ = ["app", "build", "host", "main", "verify", "workflow"]
