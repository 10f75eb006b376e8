"""Publishing to and reading from ``s3://`` on a real S3-protocol server (moto, in a subprocess).

The session fixture ``s3_server`` starts the server and points the standard AWS variables at it,
the way a user points the project at MinIO or AWS; nothing here is mocked.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import fsspec
import numpy as np
import pytest

from gan_core import publish
from gan_core.imaging import decode_png
from gan_core.io import store
from gan_core.publish import PublishError, Rows, RowStream
from gan_core.publish.remote import CLAIMS_DIR, claim_version, move_latest
from gan_core.publish.versions import read_latest
from tests.gan_core.publish.sample_rows import rows
from tests.reliability.conftest import PROJECT, child_env

CLASS_NAMES = [str(i) for i in range(10)]
NAME = "digits"
SHAPE = (28, 28, 1)


def standard_parts() -> list[Rows]:
    return [rows(60, "real", "train", 1), rows(30, "synthetic", "train", 2), rows(20, "real", "test", 3)]


def s3() -> fsspec.AbstractFileSystem:
    return fsspec.filesystem("s3", use_listings_cache=False)


def cli(*args: str) -> subprocess.CompletedProcess:
    """Runs ``python -m flows.cli`` as a user would, with this process's AWS environment."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], cwd=PROJECT, env=child_env(), capture_output=True, text=True
    )


def keys(url: str) -> list[str]:
    """Object keys under ``url``, relative to it."""
    root = url.removeprefix("s3://").rstrip("/") + "/"
    return sorted(key[len(root) :] for key in s3().find(root))


@pytest.fixture(scope="module")
def published(s3_server, tmp_path_factory):
    """One version published to S3 and the same rows published locally, for comparison."""
    s3().mkdir("published")
    root = "s3://published/team/datasets"
    remote = publish.publish_version(root, NAME, standard_parts(), CLASS_NAMES, {"note": "s3"}, rows_per_shard=25)
    local_root = tmp_path_factory.mktemp("local")
    local = publish.publish_version(local_root, NAME, standard_parts(), CLASS_NAMES, {"note": "s3"}, rows_per_shard=25)
    return remote, local, f"{root}/{NAME}", local_root / NAME


def test_publish_uploads_the_layout_with_the_bytes_of_a_local_publish(published):
    remote, local, dataset, _ = published
    assert remote.path == f"{dataset}/v0001" and remote.version == 1
    assert keys(dataset) == [
        f"{CLAIMS_DIR}/v0001",
        "LATEST",
        "v0001/README.md",
        "v0001/data/test-00000-of-00001.parquet",
        *[f"v0001/data/train-0000{i}-of-00004.parquet" for i in range(4)],
        "v0001/manifest.json",
        "v0001/sample_grid.png",
    ]
    assert s3().cat_file(f"{dataset}/LATEST") == b"v0001\n"
    # Same rows, same shards: the remote path only changes where the bytes go.
    assert remote.manifest["shards"] == local.manifest["shards"]
    assert publish.read_manifest(remote.path) == remote.manifest


def test_verify_resolve_and_list_work_on_a_url(published):
    remote, _, dataset, _ = published
    assert publish.list_versions(dataset) == [1]
    assert publish.resolve_version(dataset) == remote.path
    assert publish.resolve_version(dataset + "/", "v0001") == remote.path
    summary = publish.verify(remote.path)
    assert summary["rows"] == 110 and summary["shards"] == 5 and summary["path"] == remote.path
    assert summary["rows_per_split"] == {"test": 20, "train": 90}


def test_cli_show_and_verify_take_a_url(published):
    remote, _, dataset, _ = published
    verified = cli("verify", dataset)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"OK {NAME} v0001: 5 shards, 110 rows")
    shown = cli("show", dataset, "--verify")
    assert shown.returncode == 0, shown.stderr
    assert f"({remote.path})" in shown.stdout and "verify       OK: 5 shards, 110 rows re-hashed" in shown.stdout
    wrong = cli("show", "gs://published/team")
    assert wrong.returncode == 2 and "unsupported scheme 'gs'" in wrong.stderr and wrong.stderr.count("\n") == 1


def test_loader_reads_a_url(published):
    from gan_core.publish import loader

    remote, _, dataset, _ = published
    parts = standard_parts()
    assert loader.shard_paths(dataset, "test") == [f"{remote.path}/data/test-00000-of-00001.parquet"]
    images, labels = loader.load_numpy(dataset, "test")
    np.testing.assert_array_equal(images, parts[2].images)
    np.testing.assert_array_equal(labels, parts[2].labels)
    batches = list(loader.make_dataset(dataset, "train", batch_size=32, shuffle=False))
    pixels = np.concatenate([np.rint(x.numpy() * 255).astype(np.uint8) for x, _ in batches])
    np.testing.assert_array_equal(pixels, np.concatenate([parts[0].images, parts[1].images]))


def test_verify_names_a_tampered_object(s3_bucket):
    result = publish.publish_version(s3_bucket, NAME, [rows(40, "real", "train", 4)], CLASS_NAMES, {}, 20)
    shard = f"{result.path}/data/train-00001-of-00002.parquet"
    data = bytearray(s3().cat_file(shard))
    data[len(data) // 2] ^= 0xFF
    s3().pipe_file(shard, bytes(data))
    with pytest.raises(PublishError, match=r"train-00001-of-00002\.parquet does not match its sha256"):
        publish.verify(result.path)
    s3().rm_file(shard)
    with pytest.raises(PublishError, match=r"train-00001-of-00002\.parquet is missing"):
        publish.verify(result.path)


def test_a_version_without_its_manifest_is_invisible_and_its_number_is_not_reused(s3_bucket):
    from gan_core.publish import loader

    dataset = f"{s3_bucket}/{NAME}"
    publish.publish_version(s3_bucket, NAME, [rows(40, "real", "train", 5)], CLASS_NAMES, {})
    # A real publisher process, killed after its second shard is uploaded: no manifest, no LATEST move.
    killed = subprocess.run(
        [sys.executable, "-m", "tests.reliability.publish_worker", s3_bucket, NAME],
        cwd=PROJECT,
        env=child_env(GAN_AUGMENT_FAULT="publish.shard_written=kill@2"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    left = keys(f"{dataset}/v0002")
    assert left == ["data/train-00000-of-00012.parquet", "data/train-00001-of-00012.parquet"]

    assert publish.list_versions(dataset) == [1]
    assert read_latest(dataset) == 1
    assert publish.resolve_version(dataset) == f"{dataset}/v0001"
    with pytest.raises(FileNotFoundError, match=r"version v0002 is not published .*available: \[1\]"):
        publish.resolve_version(dataset, 2)
    with pytest.raises(FileNotFoundError, match="manifest.json not found"):
        publish.verify(f"{dataset}/v0002")
    with pytest.raises(FileNotFoundError, match="nothing is published in .*/v0002"):
        loader.load_numpy(dataset + "/v0002", "train")
    hidden = cli("show", dataset, "--version", "2")
    assert hidden.returncode == 7 and "version v0002 is not published" in hidden.stderr
    assert loader.load_numpy(dataset, "train")[0].shape == (40, 28, 28, 1)

    after = publish.publish_version(s3_bucket, NAME, [rows(10, "real", "train", 6)], CLASS_NAMES, {})
    assert after.version == 3 and read_latest(dataset) == 3
    assert keys(f"{dataset}/v0002") == left  # the abandoned upload is left alone, still invisible
    assert publish.list_versions(dataset) == [1, 3]


def test_a_failed_publish_removes_its_objects_and_never_reuses_its_number(s3_bucket):
    dataset = f"{s3_bucket}/{NAME}"
    publish.publish_version(s3_bucket, NAME, [rows(20, "real", "train", 7)], CLASS_NAMES, {})

    def blocks():
        yield rows(30, "real", "train", 8)
        yield rows(10, "real", "test", 9)  # the wrong split: fails after the first shard is uploaded

    stream = RowStream("real", "train", 40, blocks)
    with pytest.raises(ValueError, match="yielded a 'real'/'test' block") as failure:
        publish.publish_streams(s3_bucket, NAME, [stream], CLASS_NAMES, {}, rows_per_shard=20, image_shape=SHAPE)
    assert "nothing was published" in " ".join(failure.value.__notes__)
    assert keys(f"{dataset}/v0002") == []
    assert f"{CLAIMS_DIR}/v0002" in keys(dataset)
    assert read_latest(dataset) == 1 and publish.list_versions(dataset) == [1]

    assert publish.publish_version(s3_bucket, NAME, [rows(5, "real", "train", 10)], CLASS_NAMES, {}).version == 3


def test_concurrent_publishers_get_distinct_numbers_and_latest_ends_at_the_highest(s3_bucket):
    dataset = f"{s3_bucket}/{NAME}"
    barrier = threading.Barrier(4)
    results, errors = [], []

    def publisher(seed: int) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(publish.publish_version(s3_bucket, NAME, [rows(30, "real", "train", seed)], CLASS_NAMES, {}))
        except Exception as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=publisher, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(result.version for result in results) == [1, 2, 3, 4]
    assert read_latest(dataset) == 4 and publish.list_versions(dataset) == [1, 2, 3, 4]
    for result in results:
        publish.verify(result.path)


def test_claims_are_create_only_and_latest_never_moves_backwards(s3_bucket):
    dataset = f"{s3_bucket}/{NAME}"
    assert [claim_version(dataset) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(FileExistsError):  # the store honours If-None-Match: the race is decided there
        s3().pipe_file(f"{dataset}/{CLAIMS_DIR}/v0002".removeprefix("s3://"), b"{}", mode="create")
    move_latest(dataset, 5)
    move_latest(dataset, 3)
    assert read_latest(dataset) == 5
    assert claim_version(dataset) == 6  # past LATEST as well as the claims


def test_pandas_pyarrow_duckdb_and_datasets_read_a_version_from_s3(published, tmp_path):
    """Each reader gets the endpoint and keys from the AWS environment, as the README documents."""
    import datasets
    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq
    import s3fs

    remote, _, _, _ = published
    parts = standard_parts()
    data = f"{remote.path}/data"
    expected_test = {bytes(image) for image in parts[2].images.reshape(20, -1)}

    frame = pd.read_parquet(f"{data}/test-00000-of-00001.parquet")
    assert len(frame) == 20 and frame["label"].tolist() == parts[2].labels.tolist()
    assert {bytes(decode_png(png).reshape(-1)) for png in frame["image"].str["bytes"]} == expected_test

    table = pq.read_table(data)  # pyarrow's own S3 client also reads AWS_ENDPOINT_URL
    assert table.num_rows == 110 and table.schema.metadata[b"huggingface"]

    # duckdb offline: no httpfs download; it reads through an fsspec filesystem registered with it.
    connection = duckdb.connect()
    connection.register_filesystem(s3fs.S3FileSystem())
    counts = connection.sql(
        f"SELECT split, source, count(*) FROM read_parquet('{data}/*.parquet') GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert counts == [("test", "real", 20), ("train", "real", 60), ("train", "synthetic", 30)]

    loaded = datasets.load_dataset(
        "parquet", data_files={"test": f"{data}/test-*.parquet"}, cache_dir=str(tmp_path / "hf")
    )["test"]
    assert loaded.features["label"].names == CLASS_NAMES
    assert {np.asarray(image).tobytes() for image in loaded["image"]} == expected_test


def test_bad_urls_and_credentials_fail_with_one_line_naming_the_fix(s3_server, s3_bucket, monkeypatch):
    for url, message in (
        ("gs://bucket/x", "unsupported scheme 'gs'"),
        ("s3://", "names no valid bucket"),
        ("s3:///prefix", "names no valid bucket"),
        ("s3://Bad_Bucket/x", "names no valid bucket"),
        ("s3://bucket/a/../b", "'.' or '..'"),
    ):
        with pytest.raises(ValueError, match=message):
            store.as_target(url, "output_root")
    assert store.as_target("s3://my-bucket//a/b/") == "s3://my-bucket/a/b"
    assert store.as_target("file:///tmp/x") == store.as_target("/tmp/x")

    store.check_remote_writable(f"{s3_bucket}/prefix")  # the probe object is written and removed
    assert keys(s3_bucket) == []
    with pytest.raises(ValueError, match="bucket 'no-such-bucket' does not exist; create it first"):
        store.check_remote_writable("s3://no-such-bucket/prefix")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(ValueError, match="check that http://127.0.0.1:9 is reachable"):
        store.check_remote_writable(f"{s3_bucket}/prefix")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(ValueError, match="no S3 credentials found .* set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        store.check_remote_writable(f"{s3_bucket}/prefix")
