"""``simcase send PATH``: C-STORE a folder or zip of DICOM files to a DICOM node.

What a new user needs in the first minute without dcmtk: it reads every file once for
its header, proposes one presentation context per SOP class with the transfer syntaxes
found in the files (as ``storescu -R`` does, plus the uncompressed ones pydicom can
convert to), sends on one association with TCP_NODELAY and a progress bar, and exits
non-zero when an instance was refused.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer
from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from plugin.cli._app import app, fail
from plugin.dicom.tcp import set_tcp_nodelay

__all__ = ["DicomFile", "SendSummary", "dicom_files", "presentation_contexts", "send_files"]

#: DICOM allows at most 128 presentation contexts per association.
MAX_CONTEXTS = 128
_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


@dataclass(frozen=True)
class DicomFile:
    """One DICOM file found under PATH (on disk, or a member of a zip)."""

    name: str
    sop_class_uid: str
    transfer_syntax_uid: str
    zip_path: Path | None = None

    def read(self) -> Dataset:
        """The whole dataset, pixels included."""
        if self.zip_path is None:
            return dcmread(self.name)
        with zipfile.ZipFile(self.zip_path) as archive:
            return dcmread(io.BytesIO(archive.read(self.name)))


@dataclass
class SendSummary:
    """What was sent: instances stored, refused (with their status), files not DICOM."""

    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0


def _header(data: Path | io.BytesIO) -> tuple[str, str] | None:
    try:
        ds = dcmread(data, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError):
        return None
    sop_class = ds.get("SOPClassUID")
    if not sop_class or "SOPInstanceUID" not in ds:
        return None
    transfer = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return str(sop_class), str(transfer or ImplicitVRLittleEndian)


def dicom_files(path: Path) -> tuple[list[DicomFile], int]:
    """The DICOM files in a folder (recursively), a zip, or one file; and how many other
    files were skipped."""
    found: list[DicomFile] = []
    skipped = 0

    def candidates() -> Iterator[Path]:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path

    for candidate in candidates():
        if zipfile.is_zipfile(candidate):
            with zipfile.ZipFile(candidate) as archive:
                for member in sorted(archive.namelist()):
                    if member.endswith("/"):
                        continue
                    header = _header(io.BytesIO(archive.read(member)))
                    if header is None:
                        skipped += 1
                    else:
                        found.append(DicomFile(member, *header, zip_path=candidate))
            continue
        header = _header(candidate)
        if header is None:
            skipped += 1
        else:
            found.append(DicomFile(str(candidate), *header))
    return found, skipped


def presentation_contexts(files: list[DicomFile]) -> dict[str, list[str]]:
    """SOP class -> transfer syntaxes to propose: those of its files first, then the
    uncompressed ones (``storescu -R``: only the classes present).

    Raises
    ------
    ValueError
        More SOP classes than one association can carry.
    """
    contexts: dict[str, list[str]] = {}
    for f in files:
        syntaxes = contexts.setdefault(f.sop_class_uid, [])
        if f.transfer_syntax_uid not in syntaxes:
            syntaxes.append(f.transfer_syntax_uid)
    for syntaxes in contexts.values():
        syntaxes.extend(str(ts) for ts in _UNCOMPRESSED if str(ts) not in syntaxes)
    if len(contexts) > MAX_CONTEXTS:
        raise ValueError(
            f"Argument 'files' holds {len(contexts)} SOP classes; one association carries "
            f"at most {MAX_CONTEXTS}."
        )
    return contexts


def send_files(
    files: list[DicomFile],
    host: str,
    port: int,
    *,
    calling_ae_title: str,
    called_ae_title: str,
    progress: Progress | None = None,
) -> SendSummary:
    """C-STORE ``files`` on one association; a refused instance does not stop the rest.

    Raises
    ------
    ConnectionError
        The association was not established (nobody listening, or rejected).
    """
    summary = SendSummary()
    if not files:
        return summary
    ae = AE(ae_title=calling_ae_title)
    for sop_class, syntaxes in presentation_contexts(files).items():
        ae.add_requested_context(sop_class, syntaxes)
    assoc = ae.associate(
        host,
        port,
        ae_title=called_ae_title,
        evt_handlers=[(evt.EVT_CONN_OPEN, set_tcp_nodelay)],
    )
    if not assoc.is_established:
        raise ConnectionError(
            f"no association with {called_ae_title} at {host}:{port} "
            "(is it running, and does it accept this calling AE title?)"
        )
    task = progress.add_task("sending", total=len(files)) if progress else None
    try:
        for f in files:
            try:
                status = assoc.send_c_store(f.read())
                code = int(status.Status) if "Status" in status else -1
            except (ValueError, RuntimeError, OSError) as exc:
                summary.failed.append((f.name, str(exc)))
            else:
                if code in (0x0000, 0xB000, 0xB007, 0xB006):
                    summary.sent += 1
                else:
                    reason = f"status 0x{code:04X}" if code >= 0 else "no response"
                    summary.failed.append((f.name, reason))
            if progress is not None and task is not None:
                progress.advance(task)
            if not assoc.is_established:
                break
    finally:
        if assoc.is_established:
            assoc.release()
    done = summary.sent + len(summary.failed)
    summary.failed.extend((f.name, "association lost") for f in files[done:])
    return summary


@app.command()
def send(
    path: Path = typer.Argument(..., exists=True, help="A folder, a zip or one DICOM file."),
    host: str = typer.Option("127.0.0.1", "--host", help="The DICOM node's host."),
    port: int = typer.Option(11112, "--port", min=1, max=65535, help="Its port."),
    aet: str = typer.Option("SIMCASE-SEND", "--aet", help="Calling AE title (this end)."),
    aec: str = typer.Option("SIMCASE", "--aec", help="Called AE title (the listener)."),
) -> None:
    """Send DICOM files to simcase's listener (or any DICOM node) by C-STORE."""
    files, skipped = dicom_files(path)
    if not files:
        fail(f"no DICOM files in {path}")
    try:
        contexts = presentation_contexts(files)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(
        f"simcase: {len(files)} DICOM file(s), {len(contexts)} SOP class(es)"
        + (f", {skipped} other file(s) skipped" if skipped else "")
        + f" -> {aec}@{host}:{port}"
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, transient=False) as progress:
            summary = send_files(
                files, host, port, calling_ae_title=aet, called_ae_title=aec, progress=progress
            )
    except ConnectionError as exc:
        fail(str(exc))
    for name, reason in summary.failed[:10]:
        typer.echo(f"  not stored: {name}: {reason}", err=True)
    typer.echo(f"simcase: {summary.sent} sent, {len(summary.failed)} not stored")
    if summary.failed:
        raise typer.Exit(1)
