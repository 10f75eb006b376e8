"""Ends every process a CLI run started once the CLI is gone, even when it died by SIGKILL.

A flow run started from the command line spawns helpers, above all the temporary Prefect server
(a uvicorn process of about 200 MB). Prefect stops it at a normal exit, but a SIGKILL skips
every exit handler, and the server would run on forever.

:func:`start` marks this process's environment with a random token, which every descendant
inherits, and starts a small guard process that holds the read end of a pipe whose write end
only the CLI holds. When the CLI exits, however it exits, the kernel closes that end; the guard
reads EOF, sends SIGTERM to every process still carrying the token (found in
``/proc/<pid>/environ``) and SIGKILL to those alive 5 s later. The guard runs in its own session
so a Ctrl-C aimed at the CLI does not kill it before it has cleaned up. Linux only (``/proc``);
elsewhere :func:`start` does nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

TOKEN_ENV = "GAN_AUGMENT_RUN_TOKEN"
_GRACE_SECONDS = 5.0
_write_ends: list[int] = []


def start() -> None:
    """Starts the guard for this process (once); its descendants are ended when it exits."""
    if _write_ends or not os.path.isdir("/proc/self"):
        return
    token = uuid.uuid4().hex
    read_end, write_end = os.pipe()  # both close-on-exec: no child inherits the write end
    guard_env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    subprocess.Popen(
        # -I -S: the guard needs only the standard library, so it starts in milliseconds.
        [sys.executable, "-I", "-S", os.path.abspath(__file__), token],
        stdin=read_end,
        env=guard_env,
        start_new_session=True,
    )
    os.close(read_end)
    _write_ends.append(write_end)
    os.environ[TOKEN_ENV] = token


def holders(token: str) -> list[int]:
    """The pids of live processes whose environment carries ``token``."""
    marker = f"{TOKEN_ENV}={token}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(name))
        except OSError:  # gone already, or another user's process
            continue
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _guard(token: str) -> None:
    while os.read(0, 4096):  # returns b"" only when the CLI, the one writer, is gone
        pass
    _signal_all(holders(token), signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_SECONDS
    while holders(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_all(holders(token), signal.SIGKILL)


if __name__ == "__main__":
    _guard(sys.argv[1])
