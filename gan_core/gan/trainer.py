"""The two-tape training step: G, D, the EMA copy of G, both optimizers and the seeded noise."""

from __future__ import annotations

import keras
import tensorflow as tf

from gan_core.config import ModelConfig, TrainConfig
from gan_core.gan.diffaugment import diff_augment, parse_policy
from gan_core.gan.distribute import check_global_batch
from gan_core.gan.losses import lecam_penalty, loss_pair, mode_seeking_penalty
from gan_core.gan.models import build_discriminator, build_generator
from gan_core.gan.precision import make_optimizer


# LeCam's moving averages of D's outputs (Tseng et al. 2021 use 0.99).
_LECAM_DECAY = 0.99


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant rate for the first half of ``total_steps``, then linearly down to 0."""

    def __init__(self, learning_rate: float, total_steps: int):
        self.learning_rate = learning_rate
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        half = self.total_steps / 2.0
        remaining = tf.clip_by_value((self.total_steps - step) / max(half, 1.0), 0.0, 1.0)
        return self.learning_rate * remaining

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps}


def learning_rate(base: float, decay: str, optimizer_steps: int):
    """A float for constant rates, else the decay schedule over ``optimizer_steps`` updates."""
    return base if decay == "constant" else LinearDecay(base, optimizer_steps)


class ConditionalGanTrainer:
    """Owns G, D, the EMA copy of G, both optimizers and the seeded noise stream.

    With a multi-replica ``strategy`` everything is created in its scope (mirrored) and each
    step runs on every replica; ``batch_size`` is the global batch. Each call of
    :meth:`train_step` takes ``discriminator_steps`` global batches stacked into one.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        dtype_policy: str,
        strategy: tf.distribute.Strategy | None = None,
    ):
        self.strategy = strategy or tf.distribute.get_strategy()
        check_global_batch(train_config.batch_size, self.strategy)
        with self.strategy.scope():
            self._build(model_config, train_config, dtype_policy)
        self._step_with_r1 = tf.function(lambda images, labels: self._distributed_step(images, labels, True))
        self._step_plain = tf.function(lambda images, labels: self._distributed_step(images, labels, False))
        # Host-side copy of the step counter: reading the variable back every step would stall
        # the pipeline, and lazy R1 only needs to know the parity on the host.
        self.host_step = 0

    @property
    def replicas(self) -> int:
        """Number of replicas each global batch is split over."""
        return self.strategy.num_replicas_in_sync

    def _build(self, model_config: ModelConfig, train_config: TrainConfig, dtype_policy: str) -> None:
        self.model_config = model_config
        self.train_config = train_config
        self.dtype_policy = dtype_policy
        self.generator = build_generator(model_config, dtype_policy)
        self.discriminator = build_discriminator(model_config, dtype_policy)
        # The EMA copy only samples, so it stays float32 whatever the training policy is.
        self.ema_generator = build_generator(model_config, "float32")
        self.ema_generator.set_weights(self.generator.get_weights())
        steps, decay = train_config.steps, train_config.lr_decay
        self.generator_optimizer = make_optimizer(
            learning_rate(train_config.generator_lr, decay, steps), train_config.beta_1, train_config.beta_2, dtype_policy
        )
        self.discriminator_optimizer = make_optimizer(
            learning_rate(train_config.discriminator_lr, decay, steps * train_config.discriminator_steps),
            train_config.beta_1, train_config.beta_2, dtype_policy,
        )
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(train_config.seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        mean = {"trainable": False, "aggregation": tf.VariableAggregation.MEAN}
        self.lecam_real = tf.Variable(0.0, name="lecam_real", **mean)
        self.lecam_fake = tf.Variable(0.0, name="lecam_fake", **mean)
        self._generator_loss, self._discriminator_loss = loss_pair(train_config.loss)
        self._augment_policy = parse_policy(train_config.diffaugment)

    def checkpoint(self) -> tf.train.Checkpoint:
        """Everything needed to resume bit-for-bit: weights, optimizer slots, RNG state, counters."""
        return tf.train.Checkpoint(
            generator=self.generator,
            discriminator=self.discriminator,
            ema_generator=self.ema_generator,
            generator_optimizer=self.generator_optimizer,
            discriminator_optimizer=self.discriminator_optimizer,
            rng=self.rng,
            step=self.step,
            lecam_real=self.lecam_real,
            lecam_fake=self.lecam_fake,
        )

    def train_step(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Runs the D updates and one G update; returns (discriminator_loss, generator_loss)."""
        config = self.train_config
        lazy_r1 = config.r1_gamma > 0 and self.host_step % config.r1_interval == 0
        self.host_step += 1
        step = self._step_with_r1 if lazy_r1 else self._step_plain
        return step(images, labels)

    def distribute(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """Splits each global batch of ``dataset`` over the replicas (unchanged on one device)."""
        return dataset if self.replicas == 1 else self.strategy.experimental_distribute_dataset(dataset)

    def _distributed_step(self, images, labels, apply_r1: bool):
        if self.replicas == 1:
            return self._train_step(images, labels, apply_r1)
        losses = self.strategy.run(self._train_step, args=(images, labels, apply_r1))
        return tuple(self.strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None) for loss in losses)

    def _scaled(self, optimizer: keras.optimizers.Optimizer, loss: tf.Tensor) -> tf.Tensor:
        # Replica gradients are summed, so each replica's mean loss counts 1/replicas of the
        # global mean.
        if self.replicas > 1:
            loss = loss / self.replicas
        # LossScaleOptimizer multiplies the loss so fp16 gradients do not underflow;
        # apply_gradients divides it out again and skips non-finite steps.
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.scale_loss(loss)
        return loss

    def _augment(self, images: tf.Tensor) -> tf.Tensor:
        return diff_augment(images, self._augment_policy, self.rng)

    def _train_step(self, real_images: tf.Tensor, real_labels: tf.Tensor, apply_r1: bool):
        config = self.train_config
        per_update = tf.shape(real_images)[0] // config.discriminator_steps
        for update in range(config.discriminator_steps):
            images = real_images[update * per_update : (update + 1) * per_update]
            labels = real_labels[update * per_update : (update + 1) * per_update]
            discriminator_loss = self._discriminator_update(images, labels, apply_r1 and update == 0)
        generator_loss = self._generator_update(labels)
        self._update_ema()
        self.step.assign_add(1)
        return discriminator_loss, generator_loss

    def _discriminator_update(self, real_images: tf.Tensor, labels: tf.Tensor, apply_r1: bool) -> tf.Tensor:
        config = self.train_config
        generator, discriminator = self.generator, self.discriminator
        # 1. Discriminator: real vs fresh fakes, both through the same differentiable augmentation.
        noise = self.rng.normal([tf.shape(real_images)[0], self.model_config.latent_dim])
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            real_logits = discriminator([self._augment(real_images), labels], training=True)
            fake_logits = discriminator([self._augment(fake_images), labels], training=True)
            discriminator_loss = self._discriminator_loss(real_logits, fake_logits)
            total = discriminator_loss
            if config.lecam_weight > 0:
                total += config.lecam_weight * self._lecam(real_logits, fake_logits)
            if apply_r1:
                total += self._r1_penalty(real_images, labels) * (0.5 * config.r1_gamma * config.r1_interval)
            scaled = self._scaled(self.discriminator_optimizer, total)
        gradients = tape.gradient(scaled, discriminator.trainable_variables)
        self.discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
        return discriminator_loss

    def _generator_update(self, labels: tf.Tensor) -> tf.Tensor:
        config = self.train_config
        generator, discriminator = self.generator, self.discriminator
        # 2. Generator: new noise, so G never trains on the exact fakes D just saw. With the
        # mode-seeking term the batch is two halves that share labels but not noise.
        if config.mode_seeking_weight > 0:
            half = tf.shape(labels)[0] // 2
            labels = tf.concat([labels[:half], labels[:half]], axis=0)
        noise = self.rng.normal([tf.shape(labels)[0], self.model_config.latent_dim])
        with tf.GradientTape() as tape:
            fake_images = generator([noise, labels], training=True)
            fake_logits = discriminator([self._augment(fake_images), labels], training=True)
            generator_loss = self._generator_loss(fake_logits)
            total = generator_loss
            if config.mode_seeking_weight > 0:
                total += config.mode_seeking_weight * mode_seeking_penalty(fake_images, noise)
            scaled = self._scaled(self.generator_optimizer, total)
        gradients = tape.gradient(scaled, generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        return generator_loss

    def _lecam(self, real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
        penalty = lecam_penalty(real_logits, fake_logits, self.lecam_real, self.lecam_fake)
        for average, logits in ((self.lecam_real, real_logits), (self.lecam_fake, fake_logits)):
            average.assign(_LECAM_DECAY * average + (1.0 - _LECAM_DECAY) * tf.reduce_mean(tf.stop_gradient(logits)))
        return penalty

    def _r1_penalty(self, real_images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(real_images)
            logit_sum = tf.reduce_sum(self.discriminator([real_images, labels], training=True))
        gradients = tf.cast(tape.gradient(logit_sum, real_images), tf.float32)
        return tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))

    def _update_ema(self) -> None:
        # 3. Exponential moving average of G's weights, used for sampling. Before ema_start it is
        # a copy of G; after it, a warm-up lets the effective decay grow with the steps averaged
        # (as in TF's ExponentialMovingAverage), so early weights are forgotten quickly.
        averaged = tf.cast(self.step, tf.float32) - float(self.train_config.ema_start)
        decay = tf.minimum(self.train_config.ema_decay, (1.0 + averaged) / (10.0 + averaged))
        decay = tf.where(averaged < 0, 0.0, decay)
        for ema_weight, weight in zip(self.ema_generator.weights, self.generator.weights):
            value = tf.cast(weight, ema_weight.dtype)
            if weight.trainable and self.train_config.ema_decay > 0:
                ema_weight.assign(decay * ema_weight + (1.0 - decay) * value)
            else:
                ema_weight.assign(value)  # BatchNorm statistics, or EMA disabled
