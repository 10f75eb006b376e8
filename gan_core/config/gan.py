"""The GAN: :class:`ModelConfig`, :class:`TrainConfig` and the named training profiles."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gan_core.config._base import _Config

PrecisionPolicy = Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"]
AdversarialLoss = Literal["hinge", "non_saturating"]
GeneratorArch = Literal["concat", "cbn", "resnet"]
LearningRateDecay = Literal["constant", "linear"]

DURATION_PATTERN = r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
_DURATION = re.compile(DURATION_PATTERN)
# The most steps a time budget alone may reach (TrainConfig.steps' upper bound).
MAX_STEPS = 10_000_000


def parse_duration(text: str) -> float:
    """Seconds in a duration such as '90s', '10m', '1h' or '1h30m'.

    Raises:
        ValueError: anything else, or a zero duration.
    """
    match = _DURATION.match(text or "")
    if not match or not any(match.groups()):
        raise ValueError(f"time budget {text!r} is not a duration: use e.g. '90s', '10m', '1h' or '1h30m'")
    hours, minutes, seconds = (float(group or 0) for group in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"time budget {text!r} is zero: give a positive duration such as '10m'")
    return total


class ModelConfig(_Config):
    """Architecture of the class-conditional generator and discriminator."""

    num_classes: int = Field(default=10, ge=2, le=1000, description="Set from the data by for_data().")
    image_size: int = Field(default=28, ge=16, le=64, description="Square image side; set from the data by for_data().")
    channels: Literal[1, 3] = Field(default=1, description="1 (grayscale) or 3 (RGB); set from the data by for_data().")
    latent_dim: int = Field(default=64, ge=8, le=512)
    generator_arch: GeneratorArch = Field(
        default="resnet",
        description="'concat' (label embedding at the input), 'cbn' (conditional BatchNorm) or 'resnet' (cbn with residual blocks).",
    )
    generator_width: int = Field(default=16, ge=8, le=512, description="Base channel count of G.")
    discriminator_width: int = Field(default=32, ge=8, le=512, description="Base channel count of D.")
    spectral_norm: bool = Field(default=True, description="Spectral normalisation on D's layers.")

    def for_data(self, num_classes: int, image_shape: tuple[int, int, int] | list[int]) -> "ModelConfig":
        """This config with the data's class count and (H, W, C) geometry: what the models are built for.

        Raises:
            ValueError: the geometry is not square, 16-64 px and 1 or 3 channels.
        """
        height, width, channels = (int(side) for side in image_shape)
        if height != width:
            raise ValueError(f"the models are built for square images, got {height}x{width}")
        return ModelConfig(
            **{**self.resolved(), "num_classes": num_classes, "image_size": height, "channels": channels}
        )


# Where 'auto' DiffAugment switches off. Translation keeps D from memorising a small set (the
# utility benchmark's GANs on 100 and 1,000 images use it); on the 8,000-image sample it cost CAS
# 0.904 -> 0.9505 (README, "How good are the samples?"). The crossover in between is not measured.
DIFFAUGMENT_AUTO_MAX_IMAGES = 2000

# The DiffAugment transforms gan_core.gan.diffaugment implements, named here so that checking a
# policy does not import TensorFlow.
DIFFAUGMENT_POLICIES = ("color", "cutout", "translation")


def check_diffaugment(value: str) -> str:
    """``value`` when it is 'auto' or comma-separated names of DIFFAUGMENT_POLICIES ('' is none).

    Raises:
        ValueError: naming the unknown policies and the known ones.
    """
    if value == "auto":
        return value
    unknown = [name for name in value.split(",") if name and name not in DIFFAUGMENT_POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policies {unknown}: choose from {sorted(DIFFAUGMENT_POLICIES)}")
    return value


class TrainConfig(_Config):
    """How the GAN is trained.

    The budget is counted in generator steps, not epochs, so it does not grow with the dataset:
    each step draws ``discriminator_steps`` batches of ``batch_size`` real images.
    """

    steps: int = Field(
        default=3388,
        ge=1,
        le=MAX_STEPS,
        description="Generator steps to train for (the default is 5 minutes of the bare step on a 2-core CPU).",
    )
    batch_size: int = Field(default=64, ge=8, le=4096)
    discriminator_steps: int = Field(default=1, ge=1, le=5, description="D updates per G update.")
    generator_lr: float = Field(default=2e-4, gt=0, le=1e-1)
    discriminator_lr: float = Field(default=2e-4, gt=0, le=1e-1)
    beta_1: float = Field(default=0.0, ge=0, lt=1)
    beta_2: float = Field(default=0.99, gt=0, lt=1)
    lr_decay: LearningRateDecay = Field(
        default="constant", description="'linear' decays both rates to 0 over the second half of the steps."
    )
    loss: AdversarialLoss = "hinge"
    r1_gamma: float = Field(default=0.0, ge=0, description="R1 penalty weight; 0 disables it.")
    r1_interval: int = Field(default=4, ge=1, description="Apply R1 every N steps (lazy R1).")
    lecam_weight: float = Field(
        default=0.0, ge=0, description="LeCam regularisation of D (Tseng et al. 2021); 0 disables it."
    )
    mode_seeking_weight: float = Field(
        default=0.1, ge=0, description="Mode-seeking term of G (MSGAN, Mao et al. 2019); 0 disables it."
    )
    diffaugment: str = Field(
        default="auto",
        description=(
            "Comma-separated DiffAugment policies (color, translation, cutout); '' disables; 'auto' is "
            f"translation below {DIFFAUGMENT_AUTO_MAX_IMAGES:,} training images and off from there."
        ),
    )
    ema_decay: float = Field(default=0.999, ge=0, lt=1, description="EMA of G's weights; 0 disables.")
    ema_start: int = Field(default=0, ge=0, description="Step at which the EMA starts averaging (a copy of G before).")
    precision: PrecisionPolicy = "auto"
    seed: int = Field(default=0, ge=0)
    checkpoint_every: int = Field(default=1000, ge=1, description="Checkpoint (and sample grid) every N steps.")
    log_every: int = Field(default=250, ge=1, description="Log losses and throughput every N steps.")
    checkpoint_keep: int = Field(default=3, ge=1, le=100)
    time_budget_seconds: float | None = Field(
        default=None,
        gt=0,
        le=30 * 24 * 3600,
        description=(
            "Stop training once the run has trained this long (over every call on its run directory), with a "
            "final checkpoint, whichever comes first with steps; None trains for steps alone."
        ),
    )

    @field_validator("diffaugment")
    @classmethod
    def _check_policies(cls, value: str) -> str:
        return check_diffaugment(value)

    @model_validator(mode="after")
    def _check_budget(self) -> "TrainConfig":
        if self.time_budget_seconds is not None and self.lr_decay == "linear":
            raise ValueError(
                "lr_decay 'linear' decays over a known number of steps, which a time budget does not fix: "
                "use lr_decay 'constant' with time_budget, or a step budget"
            )
        return self

    def for_training_set(self, num_images: int) -> "TrainConfig":
        """This config with ``diffaugment='auto'`` resolved for a training set of ``num_images``."""
        if self.diffaugment != "auto":
            return self
        policy = "translation" if num_images < DIFFAUGMENT_AUTO_MAX_IMAGES else ""
        return self.model_copy(update={"diffaugment": policy})


# TrainConfig fields a run may change and still resume: more steps extend it, and how often it
# logs or checkpoints does not change what it computes.
EXTENDABLE_TRAIN_FIELDS = ("steps", "log_every", "checkpoint_every", "checkpoint_keep", "time_budget_seconds")


DEFAULT_PROFILE = "default"

PROFILE_NAMES = Literal["default", "quality"]

# Named training budgets, each one parameter away (flow parameter ``profile``). Values are the
# fields that differ from the config defaults; README "How good are the samples?" shows the
# measurements that chose them.
TRAINING_PROFILES: dict[str, dict[str, dict]] = {
    "default": {"model": {}, "train": {}},
    # The default's settings for about 45 minutes of the bare step here. Measured with translation DiffAugment at 30,000 steps; 'auto' (off on 8k) is measured only at
    # the default's 3,388, and a longer run is where D overfits most, so it stays pinned here.
    "quality": {"model": {}, "train": {"steps": 30000, "diffaugment": "translation"}},
}


def profile_configs(name: str) -> tuple[ModelConfig, TrainConfig]:
    """The (ModelConfig, TrainConfig) of a named training profile.

    Raises:
        ValueError: unknown profile name.
    """
    if name not in TRAINING_PROFILES:
        raise ValueError(f"unknown training profile {name!r}: choose from {sorted(TRAINING_PROFILES)}")
    profile = TRAINING_PROFILES[name]
    return ModelConfig(**profile["model"]), TrainConfig(**profile["train"])
