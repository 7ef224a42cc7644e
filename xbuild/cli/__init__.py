"""The `xbuild` command line: a thin layer over the planning core and the engine.

Each module registers its commands on the one typer app.
"""

from xbuild.cli import (
    build_commands,
    host_commands,
    sbom_command,
    verify_command,
    workflow_command,
)
from xbuild.cli.common import app, main

__all__ = [
    "app",
    "build_commands",
    "host_commands",
    "main",
    "sbom_command",
    "verify_command",
    "workflow_command",
]
