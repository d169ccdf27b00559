"""A worker process for the stalled-job test: ``python stall_worker.py CONNINFO MODE``.

MODE ``hang``: the test task writes ``<marker>.started`` and sleeps (to be killed);
MODE ``work``: the task writes ``<marker>.done`` and returns. Heartbeat 1 s, a worker
silent for 3 s counts as dead, recovery every 1 s.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from procrastinate import JobContext

from indexer.jobs import JobResources, create_job_app, job
from indexer.worker import WorkerTiming, run_worker_async

MODE = sys.argv[2] if __name__ == "__main__" else "work"


@job("test_stall")
def stall_task(context: JobContext, marker: str) -> str:
    if MODE == "hang":
        Path(marker + ".started").write_text(str(context.job.attempts))
        time.sleep(600)
    Path(marker + ".done").write_text(str(context.job.attempts))
    return MODE


async def main(conninfo: str) -> None:
    app = create_job_app(conninfo, tasks=[stall_task])
    async with app.open_async():
        await run_worker_async(
            app,
            JobResources(conninfo=conninfo),
            timing=WorkerTiming(
                heartbeat_seconds=1, stalled_after_seconds=3, recovery_interval_seconds=1
            ),
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
