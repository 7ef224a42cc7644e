"""Moving a tag to an image the registry already holds: the same manifest put under another tag
of the same repository, so the digest does not change and nothing is pulled or built.

`skopeo copy --preserve-digests` does it: the blobs are in the repository already, so only the
manifest travels (about 0.1 s on loopback). `docker buildx imagetools create` cannot: given one
image it wraps it in a new one-entry list, with a new digest. Credentials are the Docker CLI's,
as for the tag reads (host/published.py).
"""

from __future__ import annotations

from xbuild.core.errors import CommandFailed
from xbuild.core.refs import Reference
from xbuild.engine.retry import RetryPolicy, is_transient
from xbuild.host.cmd import Shell
from xbuild.host.published import insecure

TIMEOUT = 300.0  # one manifest, but the registry may still be checking blobs


class Retagger:
    """Puts pinned images under tags. `shell` runs skopeo (a dry run prints the commands)."""

    def __init__(self, shell: Shell, retry: RetryPolicy | None = None) -> None:
        self.shell, self.retry = shell, retry or RetryPolicy()

    def put(self, source: Reference, tag: Reference) -> None:
        """Make `tag` name exactly the manifest `source` pins; raises CommandFailed."""
        if not source.digest or not tag.tag or tag.digest:
            raise ValueError(f"retag needs a pinned source and a plain tag: {source} -> {tag}")
        argv = ["skopeo", "copy", "--all", "--preserve-digests", "--quiet"]  # --all: a list whole
        if insecure(source.registry):
            argv.append("--src-tls-verify=false")
        if insecure(tag.registry):
            argv.append("--dest-tls-verify=false")
        argv += [f"docker://{source}", f"docker://{tag}"]
        retrying = self.retry.retrying(
            lambda exc: isinstance(exc, CommandFailed) and is_transient(exc.output),
            lambda _n, _exc: None)
        retrying(lambda: self.shell.run(argv, timeout=TIMEOUT))
