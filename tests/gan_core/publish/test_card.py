"""The dataset card: HF YAML that `datasets` loads a version with, provenance, metrics, gate, grid."""

from __future__ import annotations

import pytest
import yaml

from gan_core import publish
from gan_core.imaging import decode_png
from gan_core.publish import PublishError

from tests.gan_core.publish.test_writer import CLASS_NAMES, NAME, standard_parts

FIELDS = {
    "generator_hash": "f" * 64,
    "source_used": "sample",
    "training_run": "abc123-def456",
    "metrics": {"fid_ratio": 3.25, "coverage": 0.81, "acceptance_rate": 0.9},
    "metric_subsample": {"size": 10_000, "total": 1_000_000, "seed": 0},
    "gate": {"passed": True, "checks": [
        {"name": "fid_ratio", "value": 3.25, "threshold": 25.0, "op": "<=", "passed": True},
        {"name": "coverage", "value": 0.81, "threshold": 0.5, "op": ">=", "passed": True},
    ]},
}  # fmt: skip


@pytest.fixture
def version(tmp_path):
    return publish.publish_version(tmp_path, NAME, standard_parts(), CLASS_NAMES, FIELDS, rows_per_shard=100)


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_card_is_a_listed_verified_file_of_the_version(version):
    files = {entry["path"]: entry for entry in version.manifest["files"]}
    assert set(files) == {"README.md", "sample_grid.png"}
    assert files["README.md"]["bytes"] == (version.path / "README.md").stat().st_size
    assert publish.verify(version.path)["rows"] == 320
    grid = decode_png((version.path / "sample_grid.png").read_bytes())
    assert grid.shape[2] == 1 and grid.shape[0] > 10 * 28  # grayscale, one row per class, upscaled

    card = (version.path / "README.md").read_text()
    assert f"# {NAME} v0001" in card and "f" * 64 in card and "abc123-def456" in card
    assert "| fid_ratio | 3.25 | max 25 | PASS |" in card and "| coverage | 0.81 |" in card
    assert "used 10,000 of 1,000,000 generated samples" in card
    assert "[sample_grid.png](sample_grid.png)" in card and "![samples](sample_grid.png)" in card
    assert "| train | 250 | 40 | 3 |" in card  # real, synthetic, shards

    (version.path / "README.md").write_text(card.replace("PASS", "FAIL"))
    with pytest.raises(PublishError, match=r"file README\.md has \d+ bytes|file README\.md does not match its sha256"):
        publish.verify(version.path)


def test_the_yaml_front_matter_follows_the_hub_dataset_card_layout(version):
    datasets = pytest.importorskip("datasets")
    meta = front_matter((version.path / "README.md").read_text())
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "test", "path": "data/test-*.parquet"}, {"split": "train", "path": "data/train-*.parquet"},
    ]}]  # fmt: skip
    assert meta["dataset_info"]["splits"] == [
        {"name": "test", "num_examples": 30},
        {"name": "train", "num_examples": 290},
    ]
    from_card = datasets.Features._from_yaml_list(meta["dataset_info"]["features"])
    assert from_card == datasets.Features.from_dict(publish.hf_features(CLASS_NAMES))


def test_datasets_loads_every_split_of_the_version_directory_with_no_data_files(version, tmp_path):
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset(str(version.path), cache_dir=str(tmp_path / "hf-cache"))
    assert {split: loaded[split].num_rows for split in loaded} == {"train": 290, "test": 30}
    for split in loaded:
        label = loaded[split].features["label"]
        assert isinstance(label, datasets.ClassLabel) and label.names == CLASS_NAMES
        assert isinstance(loaded[split].features["image"], datasets.Image)
    assert loaded["train"][0]["image"].size == (28, 28)
