"""Tampered published versions: ``gan-augment show --verify`` and the loader name each problem.

Every case tampers with the version LATEST names (v0002) and checks that the CLI ends with one
line ``gan-augment: ...`` and exit code 7, that ``make_dataset`` refuses with the same message,
and that the untouched v0001 still verifies (nothing else is lost).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gan_core import publish
from tests.reliability.conftest import PROJECT, child_env
from tests.reliability.publish_worker import ROWS_PER_SHARD, rows

NAMES = [str(i) for i in range(10)]


def _flip_byte(version: Path) -> None:
    shard = version / "data/train-00003-of-00012.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))


def _truncate(version: Path) -> None:
    shard = version / "data/train-00000-of-00012.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])


def _edit_manifest(version: Path, edit) -> None:
    path = version / publish.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def _relabel(manifest: dict) -> None:
    manifest["rows_per_label"]["3"] += 1


def _point_shard_outside(manifest: dict) -> None:
    manifest["shards"][0]["path"] = "../../../etc/passwd"
    manifest.pop("manifest_sha256")  # as an older manifest without a digest would be


TAMPERS = {
    "flipped byte": (_flip_byte, "train-00003-of-00012.parquet does not match its sha256"),
    "truncated shard": (_truncate, r"train-00000-of-00012.parquet has \d+ bytes, the manifest says \d+"),
    "missing shard": (
        lambda v: (v / "data/train-00011-of-00012.parquet").unlink(),
        "train-00011-of-00012.parquet is missing",
    ),
    "extra shard": (
        lambda v: (v / "data/train-00012-of-00012.parquet").write_bytes(b"PAR1"),
        "data/train-00012-of-00012.parquet .* is not listed in the manifest",
    ),
    "extra file beside the manifest": (
        lambda v: (v / "notes.txt").write_text("hi"),
        "notes.txt .* is not listed in the manifest",
    ),
    "edited card": (
        lambda v: (v / "README.md").write_text((v / "README.md").read_text().replace("v0002", "v0009")),
        "file README.md does not match its sha256",
    ),
    "missing sample grid": (lambda v: (v / "sample_grid.png").unlink(), "file sample_grid.png is missing"),
    "edited manifest": (lambda v: _edit_manifest(v, _relabel), "manifest.json was edited after publishing"),
    "manifest not JSON": (lambda v: (v / publish.MANIFEST_FILE).write_text("{"), "manifest.json is not valid JSON"),
    "manifest gone": (lambda v: (v / publish.MANIFEST_FILE).unlink(), "version v0002 is not published"),
    "shard path outside": (
        lambda v: _edit_manifest(v, _point_shard_outside),
        "shard path '../../../etc/passwd' in the manifest points outside",
    ),
    "LATEST names a missing version": (
        lambda v: (v.parent / "LATEST").write_text("v0009\n"),
        r"version v0009 is not published .*available: \[1, 2\]",
    ),
    "LATEST names a path outside": (
        lambda v: (v.parent / "LATEST").write_text("../../etc\n"),
        "holds '../../etc', not a version name like 'v0003'",
    ),
    "LATEST empty": (lambda v: (v.parent / "LATEST").write_text(""), "holds '', not a version name"),
    "LATEST gone": (lambda v: (v.parent / "LATEST").unlink(), "LATEST does not exist, so nothing is published"),
}


@pytest.fixture
def tampered(tmp_path, request):
    for seed in (1, 2):
        publish.publish_version(tmp_path, "ds", rows(seed), NAMES, {}, rows_per_shard=ROWS_PER_SHARD)
    dataset_dir = tmp_path / "ds"
    tamper, expected = TAMPERS[request.param]
    tamper(dataset_dir / "v0002")
    return dataset_dir, expected


@pytest.mark.parametrize("tampered", list(TAMPERS), indirect=True)
def test_show_verify_names_the_problem_in_one_line(tampered, capsys):
    from flows.cli import main

    dataset_dir, expected = tampered
    assert main(["show", str(dataset_dir), "--verify"]) == 7
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gan-augment: ")
    assert re.search(expected, err), err
    publish.verify(dataset_dir / "v0001")  # the untouched version is intact


@pytest.mark.parametrize("tampered", list(TAMPERS), indirect=True)
def test_loader_refuses_with_the_same_message(tampered):
    from gan_core.publish.loader import make_dataset

    dataset_dir, expected = tampered
    with pytest.raises((publish.PublishError, FileNotFoundError), match=expected):
        make_dataset(dataset_dir, batch_size=8)


def test_real_cli_process_exits_7_with_one_line(tmp_path):
    for seed in (1, 2):
        publish.publish_version(tmp_path, "ds", rows(seed), NAMES, {}, rows_per_shard=ROWS_PER_SHARD)
    _flip_byte(tmp_path / "ds" / "v0002")
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "show", str(tmp_path / "ds"), "--verify"],
        cwd=PROJECT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 7
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("gan-augment: shard data/train-00003-of-00012.parquet")
    assert "Traceback" not in done.stderr
