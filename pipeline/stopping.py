"""A run's stop request: the first Ctrl-C or SIGTERM stops a run gently, a second one at once.

After the request no paper starts in any stage and no LLM call is sent. The calls already on
the wire are paid for, so they are let finish and land in the cache (map notes by chunk, triage
by batch, summaries by paper); then the run ends, exit 130 (143 for SIGTERM), and the same
command goes on from there. A second signal interrupts at once, as before: what was in flight
is lost, as in a kill, and nothing else.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pipeline.errors import CallStopped, RunStopped

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Stop:
    """Whether the run was asked to stop. Set from a signal handler and read by the run's
    threads and event loop: a plain flag, since a handler must never wait for a lock the
    interrupted code may hold."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._listeners: list[Callable[[], object]] = []

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask the run to stop; tells whoever waits for a turn (`listen`) to look again."""
        if self.signum is not None:
            return
        self.signum = signum
        for listener in list(self._listeners):
            listener()

    def listen(self, listener: Callable[[], object]) -> Callable[[], None]:
        """Call `listener` (which must be safe from a signal handler) on the request; returns
        what forgets it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def why(self) -> str:
        return _NAMES.get(self.signum or signal.SIGINT, f"signal {self.signum}")

    def check(self, task: str) -> None:
        """Raise `CallStopped` when no call may be sent any more."""
        if self.signum is not None:
            raise CallStopped(f"not sent: the run is stopping ({self.why})", stage=task)

    def stopped(self) -> RunStopped:
        """The run's end, once what it had started finished."""
        return RunStopped(
            f"stopped ({self.why}); everything finished is cached: run the same command "
            "again to go on",
            exit_code=128 + (self.signum or signal.SIGINT),
        )


class Interrupted(KeyboardInterrupt):
    """A second stop signal: the run ends at once, with the shell's code for that signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.exit_code = 128 + signum


@contextmanager
def on_signals(stop: Stop, say: Callable[[str], None]) -> Iterator[None]:
    """Within the block, the first Ctrl-C or SIGTERM asks `stop` (and `say`s so); the next one
    raises `Interrupted`, as Python's own handler raises KeyboardInterrupt. Handlers can only
    be set from the main thread; elsewhere (a caller's thread) signals keep their handlers.

    The handler only sets the flag and an event (whose lock only the announcing thread ever
    holds): it runs between two bytecodes of the main thread, which may hold the display's
    locks, so the line is said by a thread of its own; a run that ends first may not say it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    asked, done = threading.Event(), threading.Event()

    def handler(signum: int, frame: object) -> None:
        if stop.requested:
            raise Interrupted(signum)
        stop.request(signum)
        asked.set()

    def announce() -> None:
        asked.wait()
        if not done.is_set():
            say(
                f"stopping ({stop.why}): no new paper or LLM call starts; the calls on the "
                "wire finish and are cached. Press Ctrl-C again to stop at once"
            )

    threading.Thread(target=announce, name="stop-announce", daemon=True).start()
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        done.set()
        asked.set()
