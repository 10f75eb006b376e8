"""Tiny configurations for the stage tests: seconds, not minutes, on a 2-core CPU."""

TINY_STAGE_MODEL = dict(latent_dim=8, generator_width=8, discriminator_width=8)
TINY_STAGE_TRAIN = dict(steps=4, batch_size=16, log_every=2, checkpoint_every=4, precision="float32")
OPEN_GATE = dict(
    min_confidence=0.0, max_label_fidelity_gap=None, max_second_judge_gap=None, max_fid_ratio=None,
    max_memorization_rate=None, min_coverage=None, min_acceptance_rate=None, min_judge_accuracy=None,
)  # fmt: skip
