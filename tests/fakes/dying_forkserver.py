"""Preloaded by a test's fork server: it dies as it forks a worker, as one the kernel's OOM
killer takes at that moment. With PAPERBRIEF_TEST_DIED set to a path, only the first fork
server dies (it leaves that file); otherwise every one does. Imported anywhere else, it does
nothing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.argv == ["-c"] and "multiprocessing.forkserver" in sys.modules:
    _died = os.environ.get("PAPERBRIEF_TEST_DIED")
    if not (_died and Path(_died).exists()):

        def _killed() -> int:
            if _died:
                Path(_died).touch()
            os._exit(137)

        os.fork = _killed
