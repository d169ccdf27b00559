"""The Orthanc configuration simcase ships (``orthanc.json`` beside this module).

One template serves docker/ and the tests: Orthanc with the DICOMweb plugin (and the
Python plugin when the simcase forwarding script is used), ``RemoteAccessAllowed``
false (Orthanc 1.10 has no bind address and listens on all interfaces), simcase's
listener as the DICOM modality ``simcase`` and the ``SimcaseRouted`` user metadata used
by the loop guard. :func:`orthanc_config` fills in ports, paths and the script.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "DICOMWEB_PLUGIN",
    "PYTHON_PLUGIN",
    "ROUTED_METADATA",
    "forward_script_path",
    "orthanc_config",
    "template",
]

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PYTHON_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPython.so"
#: User metadata set on studies simcase has routed or processed (the loop guard).
ROUTED_METADATA = "SimcaseRouted"


def template() -> dict[str, Any]:
    """The shipped configuration, as a fresh dict."""
    text = resources.files("plugin.orthanc").joinpath("orthanc.json").read_text()
    config: dict[str, Any] = json.loads(text)
    return config


def forward_script_path() -> Path:
    """Path of the optional Orthanc Python plugin script (push to simcase)."""
    return Path(str(resources.files("plugin.orthanc").joinpath("simcase_forward.py")))


def orthanc_config(
    storage_dir: Path,
    *,
    http_port: int = 8042,
    dicom_port: int = 4242,
    aet: str = "ORTHANC",
    simcase_aet: str = "SIMCASE",
    simcase_host: str = "127.0.0.1",
    simcase_port: int = 11112,
    stable_age: int = 5,
    forward_script: Path | None = None,
    forward_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The template with this deployment's storage, ports, simcase address and plugins.

    With ``forward_script`` the Python plugin is loaded and runs that script;
    ``forward_settings`` become the ``Simcase`` section the script reads.
    """
    config = template()
    config["StorageDirectory"] = str(storage_dir)
    config["IndexDirectory"] = str(storage_dir)
    config["HttpPort"] = http_port
    config["DicomPort"] = dicom_port
    config["DicomAet"] = aet
    config["StableAge"] = stable_age
    config["DicomModalities"] = {"simcase": [simcase_aet, simcase_host, simcase_port]}
    plugins = [DICOMWEB_PLUGIN]
    if forward_script is not None:
        plugins.append(PYTHON_PLUGIN)
        config["PythonScript"] = str(forward_script)
        config["PythonVerbose"] = False
        config["Simcase"] = dict(forward_settings or {})
    config["Plugins"] = plugins
    return config
