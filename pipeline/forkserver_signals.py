"""Imported first by the workers' fork server (`executor.PRELOAD`): from then on the fork server,
and every worker it forks, ignores SIGINT and SIGTERM.

A Ctrl-C reaches the whole process group and systemd's SIGTERM the whole cgroup. The run decides
what they mean (`pipeline.stopping`: the papers started finish, then it ends), and its workers go
when it closes their pools or dies. Python's fork server ignores SIGINT only after all of its
preload imports (half a second) and SIGTERM never: a Ctrl-C in that window killed it, and the
run's pool broke with a traceback. Before this module runs (the interpreter's own start), the
run holds both blocked for it. Ignored dispositions survive the fork into each worker.

Only the fork server acts on it (started as `python -c ...`); imported anywhere else, it does
nothing.
"""

from __future__ import annotations

import signal
import sys

if sys.argv == ["-c"] and "multiprocessing.forkserver" in sys.modules:
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, signal.SIG_IGN)
    # The run starts the fork server with both blocked (`executor._start_fork_server`), so a
    # signal before this point waited; ignoring it discarded it. The workers fork unblocked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGINT, signal.SIGTERM))
