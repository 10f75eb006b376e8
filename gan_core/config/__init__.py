"""Typed configuration, one model per concern.

Every stage takes exactly one of these. They validate on construction, so a bad value fails
with a message naming the field before any expensive work starts. ``resolved()`` dumps are
written into run directories and manifests so a run can be reproduced.

The models live in one submodule per concern (``data``, ``gan``, ``semisup``, ``quality``,
``publish``); import them from here.
"""

from __future__ import annotations

from pathlib import Path

from gan_core.config.data import DataConfig
from gan_core.config.gan import (
    DEFAULT_PROFILE,
    DURATION_PATTERN,
    MAX_STEPS,
    DIFFAUGMENT_AUTO_MAX_IMAGES,
    DIFFAUGMENT_POLICIES,
    EXTENDABLE_TRAIN_FIELDS,
    PROFILE_NAMES,
    TRAINING_PROFILES,
    AdversarialLoss,
    GeneratorArch,
    LearningRateDecay,
    ModelConfig,
    PrecisionPolicy,
    TrainConfig,
    check_diffaugment,
    parse_duration,
    profile_configs,
)
from gan_core.config.publish import _DATASET_NAME_PATTERN, PublishConfig
from gan_core.config.quality import STREAM_BLOCK, ClusterConfig, GateThresholds, JudgeConfig, QualityConfig
from gan_core.config.semisup import PseudoLabelConfig, TeacherConfig

# Where snapshots, the ingest and judge caches and training runs go: a path of the whole run, so
# it belongs to no one stage's config.
DEFAULT_WORK_ROOT = Path("outputs/work")

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_WORK_ROOT",
    "DURATION_PATTERN",
    "MAX_STEPS",
    "DIFFAUGMENT_AUTO_MAX_IMAGES",
    "DIFFAUGMENT_POLICIES",
    "EXTENDABLE_TRAIN_FIELDS",
    "PROFILE_NAMES",
    "STREAM_BLOCK",
    "TRAINING_PROFILES",
    "_DATASET_NAME_PATTERN",
    "AdversarialLoss",
    "ClusterConfig",
    "DataConfig",
    "GateThresholds",
    "GeneratorArch",
    "JudgeConfig",
    "LearningRateDecay",
    "ModelConfig",
    "PrecisionPolicy",
    "PseudoLabelConfig",
    "PublishConfig",
    "QualityConfig",
    "TeacherConfig",
    "TrainConfig",
    "check_diffaugment",
    "parse_duration",
    "profile_configs",
]
