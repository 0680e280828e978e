"""A helper process of the app's own: a fresh interpreter running one of our modules, with a pipe to it.

Used where a piece of the app's work runs on another core (the MQTT bridge's receiver, the rule engine):
not a fork of this threaded process, and not a re-import of its ``__main__``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from multiprocessing.connection import Connection


def spawn_module(module: str) -> tuple[subprocess.Popen[bytes], Connection]:
    """``python -m module FD`` with this interpreter, FD being the child's end of a socket pair; returns the
    process and this end, as a ``Connection`` (pickled messages)."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(  # noqa: S603 -- our own module, with this interpreter
            [sys.executable, "-m", module, str(theirs.fileno())], pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL)
    finally:
        theirs.close()
    return process, Connection(ours.detach())
