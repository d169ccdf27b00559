"""Generator C: a third, clean-room synthetic brain-tumour MRI generator.

Written from ``docs/synthetic-spec.md`` alone, with a procedural anatomy (no template):
see ``docs/generator-c.md``.
"""

from models.synth_c.corpus import CorpusSummary, write_case, write_corpus
from models.synth_c.errors import SynthCError

__all__ = ["CorpusSummary", "SynthCError", "write_case", "write_corpus"]
