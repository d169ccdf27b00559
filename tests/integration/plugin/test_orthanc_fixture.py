"""The tests' Orthanc listens on nothing but loopback (issue 15): it runs in a network
namespace of its own whose only interface is ``lo``, and what the tests reach of it
(HTTP, DICOM) and what it calls (simcase's port) goes through relays bound to
127.0.0.1 here."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import psutil
import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from tests.conftest import free_port
from tests.integration.plugin.orthanc_fixture import orthanc_available, running_orthanc

pytestmark = pytest.mark.integration


def _interfaces(pid: int) -> list[str]:
    """The network interfaces of ``pid``'s namespace (``/proc/PID/net/dev``)."""
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":")[0].strip() for line in lines)


def _listening(port: int) -> list[str]:
    """The addresses on which something listens on TCP ``port`` in this namespace."""
    return sorted(
        c.laddr.ip
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    )


def test_orthanc_is_reached_and_reaches_out_on_loopback_only(tmp_path: Path) -> None:
    if not orthanc_available():
        pytest.fail("the Orthanc binary is not installed (apt-get install orthanc)")
    echoed = threading.Event()
    scp = AE(ae_title="SIMCASE")
    scp.add_supported_context(Verification)
    simcase_port = free_port()
    server = scp.start_server(
        ("127.0.0.1", simcase_port),
        block=False,
        evt_handlers=[(evt.EVT_C_ECHO, lambda event: echoed.set() or 0x0000)],
    )
    try:
        with running_orthanc(tmp_path / "orthanc", simcase_port=simcase_port) as orthanc:
            pid = orthanc.process.pid
            assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
            assert _interfaces(pid) == ["lo"]
            assert psutil.Process(pid).name() == "Orthanc"
            for port in (orthanc.http_port, orthanc.dicom_port):
                assert _listening(port) == ["127.0.0.1"]
            assert orthanc.get("/system")["DicomAet"] == orthanc.aet
            scu = AE(ae_title="TESTSCU")
            scu.add_requested_context(Verification)
            assoc = scu.associate("127.0.0.1", orthanc.dicom_port, ae_title=orthanc.aet)
            assert assoc.is_established
            assert assoc.send_c_echo().Status == 0x0000
            assoc.release()
            # Orthanc calls simcase's port from its namespace: the relay brings it here
            response = httpx.post(f"{orthanc.url}/modalities/simcase/echo", json={}, timeout=30)
            assert response.status_code == 200, response.text
            assert echoed.wait(5)
        for port in (orthanc.http_port, orthanc.dicom_port):
            assert _listening(port) == []  # the relays stopped with Orthanc
    finally:
        server.shutdown()
