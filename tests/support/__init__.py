"""Helpers for xbuild's integration tests: busybox binaries, a local registry, a fault proxy."""
