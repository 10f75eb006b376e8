"""The class-conditional GAN: networks, losses, DiffAugment, precision, multi-GPU, training, sampling.

Modules: ``models`` (generators and the projection discriminator), ``losses`` (paired
``<kind>_generator_loss`` / ``<kind>_discriminator_loss`` and regularisers), ``diffaugment``,
``precision`` (dtype policy and loss scaling), ``distribute`` (MirroredStrategy), ``trainer``
(the two-tape step), ``batches`` (the resumable input pipeline), ``run_state`` (a run directory's
settings, history and checkpoints), ``divergence`` (non-finite detection and the lower-rate retry),
``train`` (the resumable training loop), ``sampling`` (export, load and
sample a generator) and ``stage`` (the flow's train step with its typed result). Every module
imports TensorFlow, so import them directly.
"""
