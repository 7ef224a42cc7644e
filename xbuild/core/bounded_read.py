"""Reading a file that is input (a matrix, a lock, a build record, a Dockerfile, an ignore
file): regular files only, and at most a stated number of bytes.

`Path.read_text` on a FIFO waits forever for a writer, and on `/dev/zero` reads until memory
runs out; a size checked with `stat` first says 0 for both. Here the file is opened without
blocking, refused unless `fstat` says it is a regular file, and read up to one byte past the
limit. Failures are OSErrors whose `strerror` is one line, so callers' `except OSError` name
the file as they already do.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`; OSError if it is something else or larger."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, device or folder is "
                                        "never read)")
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {_size(limit)}")
    return data


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"
