"""Record linkage of police (一标三实) and grid (网格化) records: blocking, graded comparisons,
Fellegi–Sunter scoring, clustering with a cross-source 1:1 guard, stable entity ids.

Plain library: no dagster, no great_expectations. `link()` runs the whole chain; the parts are
exported for pipelines, tests and the later EM/explain work.
"""
from matching.blocking import BlockingRule, block_on, blocking_report, candidate_pairs
from matching.clustering import Thresholds, cluster_pairs
from matching.comparisons import Comparison, Level, compute_gammas
from matching.ids import StableIds, assign_ids
from matching.linker import LinkResult, link, pair_id
from matching.records import prepare_records
from matching.scoring import Group, Model, TermFrequency, score
from matching.settings import MatchSettings
from matching.training import TrainingOptions, train

__all__ = [
    "BlockingRule", "Comparison", "Group", "Level", "LinkResult", "MatchSettings", "Model",
    "StableIds", "Thresholds", "assign_ids", "block_on", "blocking_report", "candidate_pairs",
    "cluster_pairs", "compute_gammas", "link", "pair_id", "prepare_records", "score",
    "TermFrequency", "TrainingOptions", "train",
]
