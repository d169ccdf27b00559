"""Labelled BraTS-layout folders as training reads them: their cases (each id in one
folder only), a split with no patient on both sides, the studies one at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from models.corpus import CaseRecord, iter_studies, read_cases_csv
from models.errors import TrainingDataError

__all__ = ["folders_of", "read_records", "read_studies", "split_by_patient"]


def split_by_patient(
    records: list[CaseRecord], fraction: float, seed: int
) -> tuple[list[CaseRecord], list[CaseRecord]]:
    """Split cases into training and validation sets with no patient in both."""
    patients = sorted({r.patient_id for r in records})
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(patients, size=round(len(patients) * fraction), replace=False))
    train = [r for r in records if r.patient_id not in chosen]
    valid = [r for r in records if r.patient_id in chosen]
    return train, valid


def folders_of(data_dir: Path | Sequence[Path]) -> list[Path]:
    """One folder or several, as a list."""
    return [data_dir] if isinstance(data_dir, Path) else list(data_dir)


def read_records(folders: list[Path]) -> tuple[list[CaseRecord], dict[str, Path]]:
    """The cases of several labelled folders, and the folder of each case id."""
    records: list[CaseRecord] = []
    where: dict[str, Path] = {}
    for folder in folders:
        for record in read_cases_csv(folder):
            if record.case_id in where:
                raise TrainingDataError(
                    f"case {record.case_id} is in {where[record.case_id]} and {folder}"
                )
            where[record.case_id] = folder
            records.append(record)
    return records, where


def _studies(where: dict[str, Path], records: list[CaseRecord]) -> Iterator[tuple[CaseRecord, Any]]:
    for record in records:
        yield from iter_studies(where[record.case_id], [record])


def read_studies(
    where: dict[str, Path], records: list[CaseRecord], what: str, progress: bool
) -> Iterator[tuple[CaseRecord, Any]]:
    """The labelled studies one at a time: only the crops or volumes made from them are
    kept, so a corpus need not fit in memory (1,615 training cases at 2 mm are ~30 GB)."""
    for record, study in tqdm(
        _studies(where, records),
        total=len(records),
        desc=f"reading {what}",
        disable=not progress,
    ):
        if study.mask is None:
            raise TrainingDataError(f"training case {record.case_id} has no -seg mask")
        yield record, study
