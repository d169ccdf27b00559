"""Writing a whole corpus: BraTS-layout NIfTI, ``cases.csv``, ``truth.json``, DICOM, preview."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicom_conversion import write_brats_case
from models.synth.case import generate_case
from models.synth.contrast import DEFAULT_CONTRAST_JITTER
from models.synth.dicom_export import write_case_dicom
from models.synth.errors import SynthesisError
from models.synth.plan import DIAGNOSES, HARD_CASE_RATE, plan_case
from models.synth.preview import PreviewRow, preview_row, write_preview

__all__ = ["CASES_CSV", "TRUTH_JSON", "CorpusSummary", "write_corpus"]

logger = logging.getLogger(__name__)

CASES_CSV = "cases.csv"
TRUTH_JSON = "truth.json"
CSV_COLUMNS = ("case_id", "diagnosis", "patient_id", "age", "sex")
_PREVIEW_PER_TYPE = 3


@dataclass(frozen=True)
class CorpusSummary:
    """What :func:`write_corpus` wrote."""

    out_dir: Path
    case_ids: tuple[str, ...]
    seconds: float
    preview: Path | None
    dicom_dir: Path | None


@dataclass(frozen=True)
class _Job:
    seed: int
    index: int
    resolution_mm: float
    types: tuple[str, ...] | None
    out_dir: Path
    dicom_dir: Path | None
    want_preview: bool
    contrast_jitter: float
    hard_rate: float


@dataclass(frozen=True)
class _Result:
    row: dict[str, str]
    truth: dict[str, Any]
    preview: PreviewRow | None


def _run(job: _Job) -> _Result:
    try:
        case = generate_case(
            job.seed,
            job.index,
            resolution_mm=job.resolution_mm,
            types=job.types,
            contrast_jitter=job.contrast_jitter,
            hard_rate=job.hard_rate,
        )
        write_brats_case(case.study, job.out_dir, case.case_id)
        if job.dicom_dir is not None:
            write_case_dicom(
                case, plan_case(job.seed, job.index, job.types, job.hard_rate), job.dicom_dir
            )
    except SynthesisError:
        raise
    except Exception as exc:
        raise SynthesisError(f"case {job.index} of seed {job.seed} failed: {exc}") from exc
    row = {
        "case_id": case.case_id,
        "diagnosis": case.diagnosis,
        "patient_id": case.patient_id,
        "age": str(case.age),
        "sex": case.sex,
    }
    preview = None
    if job.want_preview:
        hard = case.truth.get("hard")
        caption = f"{case.case_id}  {case.diagnosis}" + (f" ({hard})" if hard else "")
        preview = preview_row(case.study, caption)
    logger.info("synthetic case written", extra={"case_id": case.case_id})
    return _Result(row=row, truth=case.truth, preview=preview)


def _preview_indices(
    seed: int, n_cases: int, types: tuple[str, ...] | None, hard_rate: float
) -> set[int]:
    chosen: set[int] = set()
    counts = dict.fromkeys(DIAGNOSES, 0)
    for index in range(n_cases):
        plan = plan_case(seed, index, types, hard_rate)
        if plan.timepoint == 1 and counts[plan.diagnosis] < _PREVIEW_PER_TYPE:
            counts[plan.diagnosis] += 1
            chosen.add(index)
        if all(c >= _PREVIEW_PER_TYPE for c in counts.values()):
            break
    return chosen


def _results(jobs: list[_Job], workers: int) -> Iterator[_Result]:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_run, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_run, jobs, chunksize=1)


def write_corpus(
    out_dir: Path,
    n_cases: int,
    seed: int,
    *,
    resolution_mm: float = 1.0,
    types: Sequence[str] | None = None,
    workers: int = 1,
    dicom_dir: Path | None = None,
    preview: Path | None = None,
    contrast_jitter: float = DEFAULT_CONTRAST_JITTER,
    hard_rate: float = HARD_CASE_RATE,
) -> CorpusSummary:
    """Generate cases ``0 .. n_cases-1`` of corpus ``seed`` into ``out_dir``.

    Writes ``out_dir/<case>/<case>-{t1n,t1c,t2w,t2f,seg}.nii.gz``,
    ``out_dir/cases.csv`` (``case_id,diagnosis,patient_id,age,sex``) and
    ``out_dir/truth.json`` (``{"seed", "resolution_mm", "types", "cases": [facts...]}``);
    with ``dicom_dir`` also one DICOM study per case, with ``preview`` a PNG montage.
    Files are byte-identical for the same arguments, whatever ``workers``.
    ``contrast_jitter`` widens (or narrows) the per-case tissue intensity ranges, e.g.
    for a held-out corpus unlike the training data; ``hard_rate`` sets the share of
    patients with a deliberately hard variant (higher for a training corpus that
    should see many of them; the default is the natural mix).

    Raises:
        SynthesisError: Bad arguments or a case that could not be generated.
    """
    if n_cases < 1:
        raise SynthesisError(f"n_cases must be >= 1, got {n_cases}")
    if not 0.0 <= contrast_jitter <= 0.3:
        raise SynthesisError(f"contrast_jitter must be within 0..0.3, got {contrast_jitter}")
    if workers < 1:
        raise SynthesisError(f"workers must be >= 1, got {workers}")
    allowed = tuple(types) if types is not None else None
    plan_case(seed, 0, allowed, hard_rate)  # validates seed, types and rate before any work
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = _preview_indices(seed, n_cases, allowed, hard_rate) if preview is not None else set()
    jobs = [
        _Job(
            seed,
            i,
            float(resolution_mm),
            allowed,
            out_dir,
            dicom_dir,
            i in wanted,
            float(contrast_jitter),
            float(hard_rate),
        )
        for i in range(n_cases)
    ]
    rows: list[dict[str, str]] = []
    facts: list[dict[str, Any]] = []
    previews: list[PreviewRow] = []
    for result in _results(jobs, workers):
        rows.append(result.row)
        facts.append(result.truth)
        if result.preview is not None:
            previews.append(result.preview)

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out_dir / CASES_CSV).write_text(buffer.getvalue(), encoding="utf-8")
    document = {
        "generator": "simcase synth",
        "seed": seed,
        "resolution_mm": float(resolution_mm),
        "contrast_jitter": float(contrast_jitter),
        "hard_rate": float(hard_rate),
        "types": list(allowed) if allowed else list(DIAGNOSES),
        "labels": {"1": "necrotic core", "2": "oedema", "3": "enhancing tumour"},
        "cases": facts,
    }
    (out_dir / TRUTH_JSON).write_text(
        json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    preview_path = None
    if preview is not None:
        previews.sort(key=lambda row: (row.caption.split()[1], row.caption))
        preview_path = write_preview(previews, Path(preview))
    return CorpusSummary(
        out_dir=out_dir,
        case_ids=tuple(row["case_id"] for row in rows),
        seconds=time.perf_counter() - started,
        preview=preview_path,
        dicom_dir=dicom_dir,
    )
