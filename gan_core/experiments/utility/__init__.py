"""The downstream-utility benchmark: does GAN data help a classifier trained on N real images?

Modules: ``config`` (:class:`UtilityConfig`, the arms, the quick preset), ``stats`` (mean +- std
and paired-by-seed gains with Student-t intervals), ``report`` (markdown table and plot), ``run``
(one (N, seed) experiment, the protocol, and its result cache), ``label_scarce`` (its arms e-g)
and ``mixing`` (real rows repeated and mixed with synthetic ones). This package re-exports their
public names, so ``from gan_core.experiments import utility`` is enough.
"""

from gan_core.experiments.utility.config import (
    ARM_NAMES,
    ARMS,
    BASELINES,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_SOURCE,
    GAN_FIELDS,
    QUICK,
    RESULT_FORMAT,
    UtilityConfig,
    UtilityError,
    preset,
)
from gan_core.experiments.utility.mixing import mix_real_and_synthetic
from gan_core.experiments.utility.report import format_table, utility_png
from gan_core.experiments.utility.run import (
    experiment_name,
    load_result,
    run_experiment,
    run_or_load,
    save_result,
)
from gan_core.experiments.utility.stats import mean_std, paired_gain, summarize, t_quantile_975

__all__ = [
    "ARM_NAMES",
    "ARMS",
    "BASELINES",
    "DEFAULT_OUTPUT_DIR",
    "DEFAULT_SOURCE",
    "GAN_FIELDS",
    "QUICK",
    "RESULT_FORMAT",
    "UtilityConfig",
    "UtilityError",
    "experiment_name",
    "format_table",
    "load_result",
    "mean_std",
    "mix_real_and_synthetic",
    "paired_gain",
    "preset",
    "run_experiment",
    "run_or_load",
    "save_result",
    "summarize",
    "t_quantile_975",
    "utility_png",
]
