"""Helpers for xbuild's integration tests: running the CLI and docker, a fault-injecting proxy."""
