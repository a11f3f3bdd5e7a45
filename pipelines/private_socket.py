"""Unix sockets private to the user who runs the platform: the validation service's and the warm runner's. Whoever
may connect to either runs code as that user (pickled requests, commands), so each lives in a directory of the
user's own (mode 0700) and is made 0600."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path


def private(directory: Path) -> bool:
    """The directory is this user's, and nobody else's (no group or other permissions)."""
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def listen(path: Path) -> socket.socket:
    """A socket listening at `path` (one left there by a process that was killed replaced), mode 0600."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(umask)
    listener.listen(64)
    return listener
