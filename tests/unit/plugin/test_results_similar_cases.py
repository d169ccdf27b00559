"""The machine-readable similar-case list: a TID 1500 report referencing the query's SEG."""

from __future__ import annotations

import datetime as dt

import highdicom as hd
import numpy as np
import pytest
from pydicom import Dataset
from pydicom.uid import Comprehensive3DSRStorage

from plugin.results import codes
from plugin.results.facts import ResultHit
from plugin.results.outline_objects import build_outline
from plugin.results.result_series import ResultUids as _Uids
from plugin.results.similar_cases import build_similar_case_report
from tests.unit.plugin.result_samples import hits_for, outline_for, results_for
from tests.unit.plugin.samples import mr_series

NOW = dt.datetime(2026, 1, 2, 3, 4, 5)


def objects(
    hits: list[ResultHit], per_diagnosis: dict[str, list[ResultHit]] | None = None
) -> tuple[Dataset, Dataset, list[Dataset]]:
    """The SEG, the similar-case report and the query's instances."""
    source = mr_series(5)
    seg, _, similar = build_outline(
        outline_for(source),
        "emb-test-1",
        uid_seed="s",
        now=NOW,
        hits=hits,
        per_diagnosis=per_diagnosis,
    )
    return seg, similar, source


def codes_of(ds: Dataset) -> list[tuple[str, str]]:
    """Every (scheme, value) of a concept name, code value or unit in the SR tree."""
    out: list[tuple[str, str]] = []
    for item in ds.get("ContentSequence", []):
        for attr in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            if attr in item:
                code = item.get(attr)[0]
                out.append((str(code.CodingSchemeDesignator), str(code.CodeValue)))
        if "MeasuredValueSequence" in item:
            unit = item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0]
            out.append((str(unit.CodingSchemeDesignator), str(unit.CodeValue)))
        out.extend(codes_of(item))
    return out


def values_of(ds: Dataset) -> set[str]:
    """Every text and UID value anywhere in ``ds`` (nested sequences included)."""
    out: set[str] = set()

    def visit(dataset: Dataset, elem: object) -> None:
        if getattr(elem, "VR", "") in {"UI", "UT", "LO", "SH", "ST"}:
            value = elem.value  # type: ignore[attr-defined]
            out.update(str(v) for v in (value if isinstance(value, list) else [value]))

    ds.walk(visit)
    return out


def test_one_group_per_hit_read_back_with_highdicom() -> None:
    hits = hits_for(3)
    per = {"glioma": [hits[0]], "metastasis": [hits[2]]}
    seg, similar, _ = objects(hits, per)
    assert similar.SOPClassUID == Comprehensive3DSRStorage
    assert similar.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    sr = hd.sr.Comprehensive3DSR.from_dataset(similar)
    groups = sr.content.get_volumetric_roi_measurement_groups()
    ranked = [*hits, hits[0], hits[2]]
    assert [str(g.tracking_identifier) for g in groups] == [h.case_id for h in ranked]
    for group, hit in zip(groups, ranked, strict=True):
        (similarity,) = group.get_measurements(name=codes.SIMILARITY)
        assert similarity.value == pytest.approx(round(100 * hit.similarity, 2))
        assert similarity.unit == codes.PERCENT
        diagnosis = [
            q for q in group.get_qualitative_evaluations() if q.name == codes.DIAGNOSIS_OBSERVABLE
        ]
        assert [q.value for q in diagnosis] == [codes.DIAGNOSIS_CODES[hit.diagnosis]]
        assert group.finding_type.value == "108369006"  # SCT neoplasm: the query region
        region = group.referenced_segment
        assert region is not None
        assert region.referenced_sop_instance_uid == seg.SOPInstanceUID
        ref = region[0].ReferencedSOPSequence[0]
        assert list(ref.ReferencedSegmentNumber) == [1, 2, 3]  # the whole tumour outline
    assert similar.SoftwareVersions == "emb-test-1"
    assert similar.SeriesNumber == 9905


def test_algorithm_identification_tid_4019_on_every_group_and_measurement() -> None:
    _, similar, _ = objects(hits_for(2))
    found = codes_of(similar)
    names = [v for s, v in found if s == "DCM" and v in {"111000", "111001", "111003"}]
    # (family, name, version) on each group and on each similarity measurement
    assert sorted(set(names)) == ["111000", "111001", "111003"]
    assert names.count("111000") == 4
    assert ("DCM", "123110") in found  # Artificial Intelligence
    texts = values_of(similar)
    assert {"simcase similar-case search", "emb-test-1"} <= texts


def test_diagnoses_are_snomed_and_private_codes_only_where_none_exists() -> None:
    hits = [
        ResultHit(rank=i + 1, case_id=f"C-{i}", diagnosis=d, similarity=0.5)
        for i, d in enumerate(("glioma", "meningioma", "metastasis"))
    ]
    _, similar, _ = objects(hits)
    found = codes_of(similar)
    for value in ("393564001", "302820008", "94225005", "439401001"):
        assert ("SCT", value) in found
    assert ("UCUM", "%") in found and ("UCUM", "1") not in found
    private = {v for s, v in found if s == "99SIMCASE"}
    assert private == {"SIM"}  # similarity: no standard concept
    assert similar.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99SIMCASE"
    other = codes.diagnosis_code("lymphoma")
    assert other.scheme_designator == "99SIMCASE" and other.meaning == "lymphoma"


def test_no_other_patients_uids_or_images() -> None:
    hits = hits_for(2)
    assert hits[0].study_instance_uid  # the readable report names it; this one must not
    seg, similar, source = objects(hits)
    assert str(hits[0].study_instance_uid) not in values_of(similar)
    readable = results_for(source, hits, np.zeros((32, 32)))[-1]
    assert str(hits[0].study_instance_uid) in values_of(readable)  # the check can see it
    evidence = {
        str(ref.ReferencedSOPInstanceUID)
        for study in similar.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for ref in series.ReferencedSOPSequence
    }
    assert evidence == {str(seg.SOPInstanceUID), *(str(ds.SOPInstanceUID) for ds in source)}
    assert similar.PatientID == source[0].PatientID


def test_no_hits_no_report_and_builder_refuses_empty_lists() -> None:
    source = mr_series(4)
    outline = outline_for(source)
    assert len(build_outline(outline, "v", hits=[])) == 2
    seg = build_outline(outline, "v")[0]
    with pytest.raises(ValueError, match="'hits'"):
        build_similar_case_report(
            [], None, seg, outline.series, model_version="v", uid=_Uids(None), now=NOW
        )


def test_build_results_sends_it_with_the_other_results() -> None:
    source = mr_series(4)
    objs = results_for(
        source, hits_for(2), np.zeros((32, 32)), outline=outline_for(source), uid_seed="x"
    )
    descriptions = [str(ds.SeriesDescription) for ds in objs]
    assert descriptions[3].startswith("simcase similar-case list TID 1500")
    assert descriptions[-1].startswith("simcase similar cases report")


def test_readable_report_states_similarity_in_percent_and_the_algorithm() -> None:
    source = mr_series(2)
    (report,) = results_for(source, hits_for(1), np.zeros((32, 32)))[1:]
    found = codes_of(report)
    assert ("UCUM", "%") in found and ("UCUM", "1") not in found
    assert ("DCM", "111000") in found and ("DCM", "123110") in found
