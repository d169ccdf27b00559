"""The stand-in worker (:func:`fault_helpers.stand_in_workers`: procrastinate, stand-in
models, results into the data folder) as a process of its own, for a test whose worker
must see what the listener sees (the spool inside a mount namespace):

    python -m tests.integration.plugin.stand_in_worker DATABASE_URL DATA_DIR

It prints ``stand-in worker running`` once started and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from tests.integration.plugin.fault_helpers import stand_in_workers, worker_settings

READY = "stand-in worker running"


def main() -> None:
    database_url, data_dir = sys.argv[1], Path(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with stand_in_workers(worker_settings(database_url, data_dir), database_url):
        print(READY, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
