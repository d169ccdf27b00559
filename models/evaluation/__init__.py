"""Retrieval evaluation: metrics, baselines, morphology and the t-SNE view."""

from models.evaluation.retrieval_metrics import RetrievalScores, rank_references, retrieval_scores

__all__ = ["RetrievalScores", "rank_references", "retrieval_scores"]
