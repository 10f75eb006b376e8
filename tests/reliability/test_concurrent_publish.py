"""Eight processes publish to one dataset at the same moment; LATEST must end at the highest."""

from __future__ import annotations

from gan_core import publish
from gan_core.publish.versions import read_latest
from tests.reliability.conftest import check_dataset, start_publisher, wait_for

PUBLISHERS = 8


def test_eight_concurrent_publishers_get_eight_verified_versions(tmp_path):
    go, ready = tmp_path / "go", tmp_path / "ready"
    ready.mkdir()
    workers = [start_publisher(tmp_path, "shared", "--ready", str(ready), "--go", str(go)) for _ in range(PUBLISHERS)]
    # Release them together once every interpreter has finished importing.
    wait_for(lambda: len(list(ready.iterdir())) == PUBLISHERS, 120, "all publishers to be ready")
    go.touch()
    outcomes = [(w.communicate(timeout=300), w.returncode) for w in workers]
    for (out, err), code in outcomes:
        assert code == 0, err
    claimed = sorted(int(out.split()[-1]) for (out, _), _ in outcomes)
    assert claimed == list(range(1, PUBLISHERS + 1))
    dataset_dir = tmp_path / "shared"
    assert check_dataset(dataset_dir) == claimed
    assert read_latest(dataset_dir) == PUBLISHERS
    pids = {publish.read_manifest(dataset_dir / publish.version_name(n))["worker_pid"] for n in claimed}
    assert len(pids) == PUBLISHERS
