"""Benchmark: a 4-series study (155 slices of 240x240, single-frame, explicit VR
little endian) into ``StudyVolumes``, side by side with dcm2niix on the same files.

Usage: ``make bench BENCH=conversion ARGS="--repeats N --workdir DIR"``. Prints the
median wall time of each over N warm runs and the ratio simcase / dcm2niix.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom

from dicom_conversion import (
    MRSequence,
    StudyInfo,
    load_study,
    read_dicom_folder,
    save_series,
    write_mr_series,
)

SHAPE = (240, 240, 155)
SERIES = [
    (MRSequence.T1, "t1_mprage_tra"),
    (MRSequence.T1C, "t1_mprage_tra +Gd"),
    (MRSequence.T2, "t2_tse_tra"),
    (MRSequence.FLAIR, "t2_tirm_tra_dark-fluid"),
]


def make_study(root: Path) -> list[Path]:
    """Write the four series; return their folders."""
    rng = np.random.default_rng(0)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-120.0, -120.0, -77.0)
    base = rng.integers(0, 1200, size=SHAPE).astype(np.float32)
    study = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.4242")
    folders = []
    for number, (sequence, description) in enumerate(SERIES, start=1):
        datasets = write_mr_series(
            base + 100 * number,
            affine,
            sequence=sequence,
            study=study,
            series_number=number,
            series_description=description,
        )
        folder = root / f"series{number}"
        save_series(datasets, folder)
        folders.append(folder)
    return folders


def dcm2niix_binary() -> str:
    beside = Path(sys.executable).parent / "dcm2niix"
    found = str(beside) if beside.is_file() else shutil.which("dcm2niix")
    if not found:
        raise SystemExit("dcm2niix not found (pip install dcm2niix)")
    return found


def time_simcase(root: Path) -> tuple[float, float]:
    """Wall and CPU seconds to read the files and build StudyVolumes."""
    start, cpu = time.perf_counter(), time.process_time()
    study = load_study(read_dicom_folder(root).datasets)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert not study.missing and study.shape == SHAPE
    return elapsed, cpu


def time_highdicom(folders: list[Path]) -> float:
    """Wall seconds of the plain route: pydicom.dcmread + highdicom.get_volume_from_series."""
    start = time.perf_counter()
    for folder in folders:
        datasets = [pydicom.dcmread(p) for p in folder.iterdir()]
        hd.get_volume_from_series(datasets, dtype=np.float32)
    return time.perf_counter() - start


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_dcm2niix(folders: list[Path], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of dcm2niix converting the four series (no gzip)."""
    binary = dcm2niix_binary()
    for old in out.glob("*.nii"):  # dcm2niix refuses to add more than a few name suffixes
        old.unlink()
    start, cpu = time.perf_counter(), _children_cpu()
    for folder in folders:
        subprocess.run(
            [binary, "-z", "n", "-b", "n", "-f", folder.name, "-o", str(out), str(folder)],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--with-highdicom",
        action="store_true",
        help="Also time dcmread + highdicom.get_volume_from_series (the plain route).",
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="simcase-bench-"))
    folders = make_study(workdir / "dicom")
    out = workdir / "dcm2niix"
    out.mkdir(exist_ok=True)
    time_simcase(workdir / "dicom")  # warm the page cache and imports
    time_dcm2niix(folders, out)
    ours, theirs = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        ours.append(time_simcase(workdir / "dicom"))
        theirs.append(time_dcm2niix(folders, out))
    wall = statistics.median(o[0] for o in ours), statistics.median(t[0] for t in theirs)
    cpu = statistics.median(o[1] for o in ours), statistics.median(t[1] for t in theirs)
    print(f"4 series x 155 slices of 240x240 (explicit VR little endian), median of {args.repeats}")
    print("                                       wall ms    CPU ms")
    print(f"simcase load_study (files -> Study): {wall[0] * 1e3:9.1f} {cpu[0] * 1e3:9.1f}")
    print(f"dcm2niix -z n (4 series, same files): {wall[1] * 1e3:8.1f} {cpu[1] * 1e3:9.1f}")
    if args.with_highdicom:
        plain = statistics.median(time_highdicom(folders) for _ in range(3))
        print(f"dcmread + hd.get_volume_from_series:  {plain * 1e3:8.1f}  (4 volumes only)")
    print(f"ratio simcase / dcm2niix:             {wall[0] / wall[1]:8.2f} {cpu[0] / cpu[1]:9.2f}")
    if args.workdir is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
