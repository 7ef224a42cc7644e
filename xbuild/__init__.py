"""xbuild: build, publish and verify one family of Docker images for several CPU architectures."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xbuild")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
