"""Versioned, atomic Parquet publishing of real and synthetic rows under one schema.

Layout of a published dataset::

    <output_root>/<dataset_name>/
        LATEST                      # "v0003\\n": the current version; readers open this
        v0001/
            manifest.json           # counts, shard and card hashes, schema, provenance
            README.md               # dataset card: HF YAML (configs, features), metrics, gate
            sample_grid.png         # linked from the card
            data/train-00000-of-00002.parquet
            data/test-00000-of-00001.parquet
        v0002/ ...

Modules: ``schema`` (Arrow schema, HF features, file names), ``versions`` (version names and
LATEST), ``manifest`` (reserved keys, JSON rules, git commit), ``rows`` (row blocks, row streams and
their checks), ``shards`` (Arrow tables, shards written as they fill), ``card`` (the dataset
card), ``writer`` (the publish transaction), ``verify`` (re-hash a version), ``stage`` (the
flow's publish step) and ``loader`` (tf.data reader; imports TensorFlow, so not re-exported here).
This package re-exports the public names so ``from gan_core import publish`` is enough.
"""

from gan_core.publish.manifest import RESERVED_MANIFEST_KEYS, read_manifest
from gan_core.publish.rows import Rows, RowStream
from gan_core.publish.schema import (
    COMPRESSION,
    DATA_DIR,
    MANIFEST_FILE,
    SCHEMA_VERSION,
    SOURCES,
    PublishError,
    arrow_schema,
    hf_features,
)
from gan_core.publish.verify import verify
from gan_core.publish.versions import LATEST_FILE, list_versions, resolve_version, version_name
from gan_core.publish.writer import PublishedVersion, publish_streams, publish_version

__all__ = [
    "COMPRESSION",
    "DATA_DIR",
    "LATEST_FILE",
    "MANIFEST_FILE",
    "RESERVED_MANIFEST_KEYS",
    "SCHEMA_VERSION",
    "SOURCES",
    "PublishError",
    "PublishedVersion",
    "RowStream",
    "Rows",
    "arrow_schema",
    "hf_features",
    "list_versions",
    "publish_streams",
    "publish_version",
    "read_manifest",
    "resolve_version",
    "verify",
    "version_name",
]
