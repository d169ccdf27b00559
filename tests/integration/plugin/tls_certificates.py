"""Self-made certificates for the DICOM TLS tests, made with the ``openssl`` command.

A CA signs the listener's certificate (``localhost``, IP 127.0.0.1) and one client
certificate; a second, self-signed client certificate stands for a sender the CA does
not know.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Certificates", "client_context", "make_certificates"]


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr}")


def _key_and_request(name: str, subject: str, folder: Path) -> None:
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", subject, cwd=folder,
    )  # fmt: skip


def _sign(name: str, extensions: str, folder: Path) -> None:
    (folder / f"{name}.ext").write_text(extensions)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
        "-out", f"{name}.pem", cwd=folder,
    )  # fmt: skip


def make_certificates(folder: Path) -> Certificates:
    """A CA, the listener's certificate and two client certificates in ``folder``."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is not installed (apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=simcase test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder,
    )  # fmt: skip
    _key_and_request("server", "/CN=localhost", folder)
    _sign(
        "server",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        folder,
    )
    _key_and_request("client", "/CN=TESTSCU", folder)
    _sign("client", "extendedKeyUsage=clientAuth\n", folder)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key",
        "-out", "stranger.pem", "-days", "2", "-subj", "/CN=STRANGER", cwd=folder,
    )  # fmt: skip
    return Certificates(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        stranger_cert=folder / "stranger.pem",
        stranger_key=folder / "stranger.key",
    )


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A sender's TLS context: checks the listener against ``ca``; presents ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(certfile=cert, keyfile=key)
    return context
