"""The benchmark's one config (:class:`UtilityConfig`), its arms, and the quick preset."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gan_core.config import PrecisionPolicy, check_diffaugment
from gan_core.io.hashing import payload_digest

ARMS: tuple[str, ...] = ("a", "b", "c", "d")
# Label-scarce arms (``UtilityConfig.label_scarce``): the N labeled images plus the rest of the
# training split as an unlabeled pool (its labels never read).
SCARCE_ARMS: tuple[str, ...] = ("e", "f", "g")

ARM_NAMES: dict[str, str] = {
    "a": "real",
    "b": "real + classic aug",
    "c": "real + synthetic",
    "d": "real + synthetic + classic aug",
    "e": "teacher (FixMatch on real + pool)",
    "f": "real + label-scarce synthetic + classic aug",
    "g": "real + pseudo-labelled pool + classic aug",
}
BASELINES: tuple[str, ...] = ("a", "b")
# Paired gains reported besides those against the baselines, when the label-scarce arms ran.
SCARCE_GAINS: tuple[tuple[str, str], ...] = (("f", "b"), ("f", "g"), ("g", "b"))
# Fields that change nothing unless label_scarce is on: left out of the experiment key then, so
# the four-arm results keep their keys.
SCARCE_FIELDS: tuple[str, ...] = (
    "label_scarce",
    "teacher_steps",
    "pseudo_label_min_confidence",
    "pseudo_label_max_per_class",
)
RESULT_FORMAT = 1

# The benchmark measures on the bundled sample unless told otherwise (the flow's ``source``), and
# writes utility.json, utility.png and experiments/*.json here. Not UtilityConfig fields: the data
# is identified by its snapshot fingerprint in each result, and where results go changes none of
# them, so neither belongs in the experiment key those fields are hashed into.
DEFAULT_SOURCE = "sample"
DEFAULT_OUTPUT_DIR = Path("outputs/utility")


class UtilityError(ValueError):
    """Bad input to the utility experiment or its statistics; the message says the fix."""


class UtilityConfig(BaseModel):
    """Sizes, seeds and budgets of the downstream-utility benchmark."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sizes: tuple[int, ...] = Field(
        default=(100, 1000, 0),
        min_length=1,
        description="Real labeled training set sizes N (stratified); 0 means all real training images.",
    )
    seeds: int = Field(default=3, ge=1, le=50, description="Seeds 0..seeds-1 per N; arms are paired by seed.")
    gan_steps: int | None = Field(
        default=None,
        ge=1,
        le=200_000,
        description="GAN generator steps, whatever N is; None uses the default profile's.",
    )
    gan_batch_size: int = Field(default=64, ge=8, le=4096, description="GAN batch size (capped at N).")
    diffaugment: str | None = Field(
        default=None, description="DiffAugment policies for the GAN; None keeps TrainConfig's."
    )
    precision: PrecisionPolicy = "auto"
    synthetic_per_class: int = Field(default=300, ge=1, le=100_000, description="Samples generated per class.")
    min_confidence: float = Field(default=0.9, ge=0, le=1, description="Reject samples the judge trusts less.")
    real_share: float = Field(
        default=0.5,
        ge=0,
        le=0.95,
        description="Least share of real rows in the synthetic arms' training set (real rows are repeated to reach it); 0 just appends the synthetic rows.",
    )
    judge_epochs: int = Field(default=10, ge=1, le=200, description="Epochs of the rejection judge.")
    judge_min_steps: int = Field(default=300, ge=0, le=100_000, description="Step floor for the judge on small N.")
    classifier_epochs: int = Field(default=10, ge=0, le=500, description="Epochs over the largest arm's data.")
    classifier_batch_size: int = Field(default=128, ge=8, le=4096)
    classifier_min_steps: int = Field(default=500, ge=0, le=200_000, description="Step floor per arm.")
    label_scarce: bool = Field(
        default=False,
        description="Also run arms e-g: the rest of the training split is an unlabeled pool for a FixMatch teacher.",
    )
    teacher_steps: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Teacher steps (arms e-g); None uses TeacherConfig's."
    )
    pseudo_label_min_confidence: float = Field(
        default=0.95, ge=0, le=1, description="Arms f, g: a pool image is pseudo-labelled at this teacher confidence."
    )
    pseudo_label_max_per_class: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Arms f, g: at most this many pseudo-labels per class."
    )

    def arms(self) -> tuple[str, ...]:
        """The arms an experiment with this config runs."""
        return ARMS + SCARCE_ARMS if self.label_scarce else ARMS

    def teacher_config(self):
        """The label-scarce arms' PseudoLabelConfig (teacher budget, confidence, cap)."""
        from gan_core.config import PseudoLabelConfig, TeacherConfig

        teacher = TeacherConfig() if self.teacher_steps is None else TeacherConfig(steps=self.teacher_steps)
        return PseudoLabelConfig(
            teacher=teacher,
            min_confidence=self.pseudo_label_min_confidence,
            max_per_class=self.pseudo_label_max_per_class,
        )

    @field_validator("sizes")
    @classmethod
    def _check_sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [size for size in value if size < 0 or 0 < size < 10]
        if bad:
            raise ValueError(f"sizes {bad} are not allowed: use N >= 10 (every class needs an image) or 0 for all")
        if len(set(value)) != len(value):
            raise ValueError(f"sizes {list(value)} repeat a value: list each N once")
        return value

    @field_validator("diffaugment")
    @classmethod
    def _check_diffaugment(cls, value: str | None) -> str | None:
        # TrainConfig's own check: the value becomes its diffaugment.
        return value if value is None else check_diffaugment(value)

    def resolved(self) -> dict:
        """Returns a JSON-ready dict of every field, defaults included."""
        return self.model_dump(mode="json")

    def experiment_key(self) -> str:
        """Hashes everything that changes one experiment's result (not ``sizes`` and ``seeds``)."""
        from gan_core.config import JudgeConfig

        payload = {k: v for k, v in self.resolved().items() if k not in ("sizes", "seeds", *SCARCE_FIELDS)}
        payload["defaults"] = {**self._gan_defaults(), "judge": JudgeConfig().resolved()}
        if self.label_scarce:
            payload["label_scarce"] = self.teacher_config().resolved()
        return payload_digest(payload, 12)

    def gan_key(self) -> str:
        """Hashes only what changes the trained GAN, so classifier-side changes reuse GAN runs."""
        payload = {name: getattr(self, name) for name in GAN_FIELDS}
        payload["defaults"] = self._gan_defaults()
        return payload_digest(payload, 12)

    @staticmethod
    def _gan_defaults() -> dict:
        # The GAN settings this config does not name come from their defaults, so a changed
        # default must not let an old result or GAN run be reused.
        from gan_core.config import profile_configs

        model, train = profile_configs("default")
        return {"model": model.resolved(), "train": train.resolved()}


GAN_FIELDS: tuple[str, ...] = ("gan_steps", "gan_batch_size", "diffaugment", "precision")


QUICK = dict(
    sizes=(100,),
    seeds=2,
    gan_steps=300,
    synthetic_per_class=100,
    judge_epochs=5,
    judge_min_steps=100,
    classifier_epochs=5,
    classifier_min_steps=200,
)


def preset(quick: bool, overrides: UtilityConfig | None = None) -> UtilityConfig:
    """The full (or ``quick``) configuration, with the fields ``overrides`` was given put over it.

    Only the fields set when ``overrides`` was built (its ``model_fields_set``) replace the
    preset's; the rest keep the preset's values. ``overrides`` validated itself on construction.
    """
    base = UtilityConfig.model_validate(QUICK) if quick else UtilityConfig()
    if overrides is None:
        return base
    return base.model_copy(update={name: getattr(overrides, name) for name in overrides.model_fields_set})
