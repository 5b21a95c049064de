"""Files that survive a crash: written beside their target, flushed, then renamed into place.

``fsync`` decides whether data is also forced to the disk. Without it, a write survives the
process being killed (the kernel holds it) but not the machine losing power.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, chunks: Iterable[bytes], *, fsync: bool, scratch: Path | None = None) -> int:
    """Write ``chunks`` to ``target`` so that a reader (or a crash) sees the old file or the new one,
    never a part. ``scratch`` is a directory on the same file system for the temporary file."""
    folder = scratch or target.parent
    temporary = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    written = 0
    try:
        with open(temporary, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_directory(target.parent)
    return written


class DirectoryLock:
    """An exclusive lock on a data directory, held while the process lives (the kernel drops it
    when the process dies, so a ``kill -9`` leaves nothing stale behind)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "LOCK"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RuntimeError(
                f"the data directory {self.path.parent} is in use by {holder}: stop it, or set "
                "MOLESIGNAL_DATA_DIR to another directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
