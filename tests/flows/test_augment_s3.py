"""The augment flow with ``output_root=s3://...`` on a real S3-protocol server (moto)."""

from __future__ import annotations

import inspect

import pytest

from flows.augment import AugmentParameterError, augment, build_configs
from gan_core import publish
from tests.flows.test_augment import OPEN_GATE, _tiny


def _parameters(tmp_path, **overrides) -> dict:
    parameters = {name: p.default for name, p in inspect.signature(augment.fn).parameters.items()}
    return {**parameters, **_tiny(tmp_path), **overrides}


@pytest.mark.parametrize(
    "output_root, message",
    [
        ("gs://bucket/datasets", "output_root: .*unsupported scheme 'gs': use a local directory or s3://BUCKET/PREFIX"),
        ("s3:///datasets", "output_root: .*names no valid bucket"),
        ("s3://no-such-bucket/datasets", "bucket 'no-such-bucket' does not exist; create it first"),
    ],
)
def test_bad_output_urls_fail_before_any_work(s3_server, tmp_path, output_root, message):
    with pytest.raises(AugmentParameterError, match=message) as failure:
        build_configs(_parameters(tmp_path, output_root=output_root))
    assert "\n" not in str(failure.value)
    assert not (tmp_path / "work" / "cache").exists()


def test_missing_credentials_are_named_before_any_work(s3_bucket, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(AugmentParameterError, match="output_root: no S3 credentials found .* AWS_ACCESS_KEY_ID"):
        build_configs(_parameters(tmp_path, output_root=f"{s3_bucket}/datasets"))


def test_flow_publishes_to_s3(prefect_harness, s3_bucket, tmp_path):
    root = f"{s3_bucket}/team/datasets"
    summary = augment(**_tiny(tmp_path, output_root=root, **OPEN_GATE))
    dataset = f"{root}/tiny"
    assert summary["version_dir"] == f"{dataset}/v0001" and summary["version"] == 1
    assert publish.list_versions(dataset) == [1]
    verified = publish.verify(publish.resolve_version(dataset))
    assert verified["rows"] == summary["rows"] > 0
    manifest = publish.read_manifest(summary["version_dir"])
    assert manifest["configs"]["publish"]["output_root"] == root
    assert not (tmp_path / "datasets").exists()  # nothing went to a local directory named like the URL
