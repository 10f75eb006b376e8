"""The one Arrow schema every shard uses, the Hugging Face features it carries, and the
file names of a published version."""

from __future__ import annotations

import json
from typing import Sequence

import pyarrow as pa

SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
DATA_DIR = "data"
SOURCES = ("real", "synthetic")
COMPRESSION = "zstd"


class PublishError(RuntimeError):
    """A publish could not complete, or a published version failed verification."""


def hf_features(class_names: Sequence[str]) -> dict:
    """Returns the Hugging Face ``datasets`` features dict (``Features.to_dict()`` layout)."""

    def value(dtype: str) -> dict:
        return {"dtype": dtype, "_type": "Value"}

    return {
        "image": {"_type": "Image"},
        "label": {"names": list(class_names), "_type": "ClassLabel"},
        "source": value("string"),
        "split": value("string"),
        "sample_id": value("string"),
        "judge_confidence": value("float32"),
        "generator_version": value("string"),
    }


def arrow_schema(class_names: Sequence[str]) -> pa.Schema:
    """Returns the one Arrow schema every shard uses, with HF features in its metadata."""
    image_type = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
    fields = [
        pa.field("image", image_type),
        pa.field("label", pa.int64()),
        pa.field("source", pa.string()),
        pa.field("split", pa.string()),
        pa.field("sample_id", pa.string()),
        pa.field("judge_confidence", pa.float32()),
        pa.field("generator_version", pa.string()),
    ]
    # `datasets` reads features from this key (the layout `Dataset.to_parquet` writes).
    metadata = {b"huggingface": json.dumps({"info": {"features": hf_features(class_names)}}).encode()}
    return pa.schema(fields, metadata=metadata)
