"""Synthetic brain-tumour MRI: glioma, meningioma and metastasis phantoms in the BraTS layout.

Anatomy from the MNI152 2009a template shipped in nilearn; four contrasts from
tissue classes with per-case jitter; type-specific lesions with mass effect;
partial-volume blur, bias field, Rician noise and a random head pose. A case
depends only on ``(seed, index)``. See ``docs/data.md``.
"""

from models.synth.case import SyntheticCase, generate_case
from models.synth.corpus import CASES_CSV, TRUTH_JSON, CorpusSummary, write_corpus
from models.synth.errors import SynthesisError, TemplateNotFoundError
from models.synth.plan import DIAGNOSES, CasePlan, plan_case

__all__ = [
    "CASES_CSV",
    "DIAGNOSES",
    "TRUTH_JSON",
    "CasePlan",
    "CorpusSummary",
    "SynthesisError",
    "SyntheticCase",
    "TemplateNotFoundError",
    "generate_case",
    "plan_case",
    "write_corpus",
]
