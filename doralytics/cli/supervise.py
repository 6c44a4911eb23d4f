"""Child processes that never outlive their parent: `dora dashboard` (Streamlit) and `dora schedule` (a job).

Each child starts in its own process group, so stopping it stops whatever it started too (a collector, a
server's workers). On SIGTERM, SIGHUP or SIGINT the parent asks each group to stop (SIGTERM), waits
`grace` seconds, then kills what is left (SIGKILL). On Linux a child also gets SIGTERM if the parent dies
without a word (kill -9), so nothing keeps the port or the warehouse after a service manager's stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


class Stopping(Exception):
    """A child was asked for after the stop began: it is not started."""


def _death_signal() -> Callable[[], None] | None:
    """A function for preexec_fn that makes the kernel send the child SIGTERM when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return set_death_signal


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the process group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # the group id was reused by someone else's process
        return False
    return True


class Children:
    """The process groups this process started, stopped together."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self._procs: list[subprocess.Popen[Any]] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._timer: threading.Timer | None = None

    def popen(self, args: Sequence[str], death_signal: bool = True, **kwargs: Any) -> subprocess.Popen[Any]:
        """Start `args` in a new process group (and session). With `death_signal` (use it only from a
        process without threads) the child also gets SIGTERM when this process dies."""
        preexec = _death_signal() if death_signal else None
        with self._lock:
            if self._stopping:
                raise Stopping(args[0])
            proc = subprocess.Popen(args, start_new_session=True, preexec_fn=preexec, **kwargs)
            self._procs = [p for p in self._procs if p.poll() is None or p is proc] + [proc]
            return proc

    def running(self) -> list[subprocess.Popen[Any]]:
        with self._lock:
            return [p for p in self._procs if p.poll() is None]

    def ask_to_stop(self) -> None:
        """SIGTERM to every group now and SIGKILL to what is left after `grace` seconds, without waiting:
        safe in a signal handler (a timer thread does the killing)."""
        with self._lock:
            self._stopping = True
            procs = list(self._procs)
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        if self._timer is None:
            self._timer = threading.Timer(self.grace, self.kill)
            self._timer.daemon = True
            self._timer.start()

    def kill(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop every group and wait: SIGTERM, up to `grace` seconds, then SIGKILL; reaps the children and
        kills whatever they left in their groups."""
        self.ask_to_stop()
        deadline = time.monotonic() + self.grace
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        self.finish()

    def finish(self) -> None:
        """After the children exited: no grandchild stays behind in their groups, no timer is left."""
        self.kill()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            proc.wait()
        if self._timer is not None:
            self._timer.cancel()


@contextlib.contextmanager
def stop_signals(handler: Callable[[signal.Signals], None]) -> Iterator[None]:
    """Call `handler` (in the main thread) on SIGTERM, SIGHUP or SIGINT while the block runs."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler(signal.Signals(signum))

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def follow_parent(interval: float = 1.0) -> None:
    """In a supervised child: when the parent is gone (killed without a word), stop this process group,
    so that nothing it started keeps writing unsupervised."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        _signal_group(os.getpgrp(), signal.SIGTERM)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
