"""``process_study``: a query study in, similar-case results back into the same study.

Four named steps (:mod:`plugin.processing.steps`): **load** the instances from the
spool or the PACS (:mod:`~plugin.processing.load`); **answer**: tumour, similar cases
by the search the API and the CLI use, and the result set, a montage and a
Comprehensive SR (:mod:`~plugin.processing.answer`, :mod:`~plugin.processing.build`);
**deliver** it by C-STORE, STOW-RS or into the results folder; **record** it in the
results log (:mod:`indexer.results_log`). A study that is not a brain MR, or has no
tumour, gets a short SR saying so; re-running an unchanged study under the same model
version sends nothing new.
"""

from plugin.processing.build import result_set
from plugin.processing.load import Skipped, screen_instances, skipped_facts
from plugin.processing.steps import ProcessOutcome, StudyServices, answer_study
from plugin.processing.study import process_study

__all__ = [
    "ProcessOutcome",
    "Skipped",
    "StudyServices",
    "answer_study",
    "process_study",
    "result_set",
    "screen_instances",
    "skipped_facts",
]
