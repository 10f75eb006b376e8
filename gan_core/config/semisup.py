"""Label-scarce mode: the semi-supervised teacher and which of its pseudo-labels are kept."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gan_core.config._base import _Config


class TeacherConfig(_Config):
    """The semi-supervised teacher (FixMatch-style) trained on few labels plus the unlabeled pool.

    Each step draws ``batch_size`` labeled and ``unlabeled_ratio * batch_size`` pool images. A pool
    image's prediction on a weak view (small shifts) becomes its pseudo-label when its confidence
    reaches ``threshold``, and the model is trained to predict it on a strong view (shifts,
    rotation, scale, shear, contrast, cutout): Sohn et al. 2020.
    """

    architecture: Literal["cnn", "lenet"] = Field(
        default="lenet",
        description="'lenet' (the reference classifier's layout, the faster) or 'cnn' (the judge's, with BatchNorm).",
    )
    num_classes: int = Field(default=10, ge=2, le=1000)
    steps: int = Field(
        default=3000,
        ge=1,
        le=10_000_000,
        description="Optimizer steps (7.7 steps/s was measured on a busy 2-core CPU: 3000 take about 6.5 minutes).",
    )
    batch_size: int = Field(default=32, ge=1, le=4096, description="Labeled images per step.")
    unlabeled_ratio: int = Field(default=5, ge=1, le=64, description="mu: pool images per labeled image in a step.")
    threshold: float = Field(default=0.95, ge=0, le=1, description="tau: confidence a pseudo-label needs to count.")
    unlabeled_weight: float = Field(default=1.0, ge=0, le=100, description="lambda_u: weight of the pool's loss.")
    learning_rate: float = Field(default=2e-3, gt=0, le=1, description="Peak Adam rate, cosine-decayed to 0.")
    ema_decay: float = Field(default=0.99, ge=0, lt=1, description="EMA of the weights used to predict; 0 disables.")
    weak_shift_pixels: int = Field(default=2, ge=0, le=8, description="Weak view: integer shifts up to this.")
    strong_shift_pixels: int = Field(default=4, ge=0, le=10, description="Strong view: shifts up to this.")
    strong_rotation_degrees: float = Field(default=25.0, ge=0, le=90, description="Strong view: rotations up to this.")
    cutout_pixels: int = Field(
        default=10, ge=0, le=64, description="Strong view: side of the blanked square; 0 disables."
    )
    log_every: int = Field(default=100, ge=1, description="Log losses and the pseudo-label rate every N steps.")


class PseudoLabelConfig(_Config):
    """Label-scarce mode: which of the teacher's pool predictions become GAN training labels."""

    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    min_confidence: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="A pool image is pseudo-labelled when the teacher's top class probability is at least this.",
    )
    max_per_class: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Keep at most this many pseudo-labels per class, the most confident first; None keeps all.",
    )
