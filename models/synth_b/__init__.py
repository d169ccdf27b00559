"""Generator B: a second synthetic brain-tumour MRI generator, written from
``docs/synthetic-spec.md`` alone (see ``docs/generator-b.md``).

Imports only :mod:`models.errors` from simcase, plus numpy, scipy, nibabel and nilearn.
"""

from models.synth_b.case import SyntheticCase, generate_case
from models.synth_b.corpus import write_corpus
from models.synth_b.errors import SynthBError

__all__ = ["SynthBError", "SyntheticCase", "generate_case", "write_corpus"]
