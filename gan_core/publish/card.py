"""The dataset card of a published version: ``README.md`` in the Hugging Face Hub convention.

YAML front matter tells ``datasets.load_dataset(<version dir>)`` everything it needs with no
``data_files`` argument: ``configs`` maps each split to its shard glob (relative to the version
directory) and ``dataset_info.features`` gives the columns, ``label`` as a ``class_label`` with
its names. Below it, markdown for people: provenance, row counts, metrics, the gate checks and
a linked sample grid (``sample_grid.png``, beside the card). The card is written inside the
publish transaction and listed with its digest in the manifest, like the shards.
"""

from __future__ import annotations

import math

import yaml

from gan_core.publish.manifest import image_shape
from gan_core.publish.schema import DATA_DIR, SOURCES, hf_features

CARD_FILE = "README.md"
GRID_FILE = "sample_grid.png"
GRID_PER_CLASS = 8

_PROVENANCE = (
    # (manifest key, label); keys absent from the manifest are left out of the card.
    ("generator_hash", "generator (content hash of the exported EMA generator)"),
    ("source_used", "source dataset used"),
    ("source_requested", "source dataset requested"),
    ("source_fingerprint", "source data fingerprint"),
    ("training_run", "training run"),
    ("flow_run_id", "Prefect flow run"),
    ("flow_started_at", "flow started at"),
)


def _yaml_features(class_names: list[str]) -> list[dict]:
    # The list layout `datasets` writes into cards (Features._to_yaml_list), built from the same
    # features dict that rides in every shard's schema metadata, so the two never disagree.
    features = []
    for name, feature in hf_features(class_names).items():
        kind = feature["_type"]
        if kind == "Image":
            dtype = "image"
        elif kind == "ClassLabel":
            dtype = {"class_label": {"names": {str(index): label for index, label in enumerate(feature["names"])}}}
        else:
            dtype = feature["dtype"]
        features.append({"name": name, "dtype": dtype})
    return features


def front_matter(manifest: dict) -> dict:
    """The card's YAML metadata: task, the default config's per-split shard globs, and the features."""
    splits = sorted(manifest["rows_per_split"])
    return {
        "pretty_name": f"{manifest['dataset_name']} {manifest['version_name']}",
        "task_categories": ["image-classification"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"{DATA_DIR}/{split}-*.parquet"} for split in splits],
            }
        ],
        "dataset_info": {
            "features": _yaml_features(manifest["class_names"]),
            "splits": [{"name": split, "num_examples": manifest["rows_per_split"][split]} for split in splits],
        },
    }


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows] + [""]


def _quality_sections(manifest: dict) -> list[str]:
    lines = []
    metrics = manifest.get("metrics")
    if isinstance(metrics, dict) and metrics:
        rows = [(key, value) for key, value in metrics.items() if not key.startswith("count_class_")]
        lines += ["## Quality metrics", "", *_table(("metric", "value"), rows)]
        subsample = manifest.get("metric_subsample")
        if isinstance(subsample, dict) and "size" in subsample:
            lines += [
                f"Metrics over pairs of points (FID, precision/recall, density/coverage, memorization, "
                f"data copying) used {subsample['size']:,} of {subsample.get('total', subsample['size']):,} "
                f"generated samples (seeded subsample, seed {subsample.get('seed')}); counts and rates such as "
                "acceptance, label fidelity and class balance used every sample.",
                "",
            ]
    gate = manifest.get("gate")
    if isinstance(gate, dict) and gate.get("checks"):
        verdict = "passed" if gate.get("passed") else "failed"
        rows = [
            (check["name"], check.get("value"), f"{'min' if check['op'] == '>=' else 'max'} {check['threshold']:g}",
             "PASS" if check["passed"] else "FAIL")
            for check in gate["checks"]
        ]  # fmt: skip
        lines += [f"## Quality gate: {verdict}", ""]
        if not gate.get("passed") and gate.get("mode") == "warn":
            lines += [
                "**Published although the gate failed** (`gate=warn`): the failed checks below say what is "
                "wrong with these samples; read them before training on this version.",
                "",
            ]
        lines += _table(("check", "value", "threshold", "result"), rows)
    return lines


def _geometry(manifest: dict) -> str:
    """'32x32 RGB' or '28x28 grayscale', from the manifest's image_shape."""
    height, width, channels = image_shape(manifest)
    return f"{height}x{width} {'RGB' if channels == 3 else 'grayscale'}"


def render_card(manifest: dict, has_grid: bool) -> str:
    """Returns the card's text for a version whose manifest fields (all but its files) are known.

    Args:
        manifest: The version's manifest so far: head fields, counts, shards and caller fields.
        has_grid: Whether ``sample_grid.png`` is written beside the card.
    """
    metadata = yaml.safe_dump(front_matter(manifest), sort_keys=False, allow_unicode=True)
    name = f"{manifest['dataset_name']} {manifest['version_name']}"
    code = manifest.get("code_version") or {}
    provenance = [(label, manifest[key]) for key, label in _PROVENANCE if manifest.get(key) is not None]
    provenance += [
        ("gan_core version", code.get("gan_core")),
        ("git commit", code.get("git_commit")),
        ("published at", manifest.get("created_at")),
    ]
    per_split = manifest["rows_per_split_source"]
    lines = [
        "---",
        metadata.rstrip("\n"),
        "---",
        "",
        f"# {name}",
        "",
        f"Labeled {_geometry(manifest)} images published by gan-augment: samples of a class-conditional GAN "
        "that a judge classifier accepted, and real rows where the run included them. Load it with "
        "`datasets.load_dataset(\"<this directory>\")`; `manifest.json` holds the sha256 of every file.",
        "",
        "## Provenance",
        "",
        *_table(("what", "value"), provenance),
        "## Rows",
        "",
        *_table(("split", *SOURCES, "shards"), [
            (split, *(per_split[split][source] for source in SOURCES),
             sum(1 for shard in manifest["shards"] if shard["split"] == split))
            for split in sorted(per_split)
        ]),
        f"Classes: {', '.join(manifest['class_names'])}.",
        "",
        *_quality_sections(manifest),
    ]  # fmt: skip
    if has_grid:
        lines += ["## Samples", "", f"First rows of each class, one row per class: [{GRID_FILE}]({GRID_FILE})", "",
                  f"![samples]({GRID_FILE})", ""]  # fmt: skip
    return "\n".join(lines)
