"""xbuild: build, publish and verify one family of Docker images for several CPU architectures."""


def __getattr__(name: str) -> str:
    # Read on demand: importlib.metadata costs every command ~30 ms of start-up.
    if name != "__version__":
        raise AttributeError(f"module 'xbuild' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xbuild")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"
