import shutil
from pathlib import Path

from prefect import flow

from gan_core.config import DataConfig
from tasks.ingest import cached_snapshot_present, ingest_cache_key, run_ingest

CONFIG = DataConfig(source="sample", real_labeled_limit=100)


@flow
def _ingest_flow(config: DataConfig, cache_root: str) -> str:
    return run_ingest(config, Path(cache_root)).snapshot_dir


def test_rerun_is_a_cache_hit_and_a_deleted_snapshot_is_rebuilt(prefect_harness, tmp_path):
    first = _ingest_flow(CONFIG, str(tmp_path), return_state=True)
    snapshot = Path(first.result())
    assert (snapshot / "meta.json").exists()
    assert cached_snapshot_present(CONFIG, tmp_path)

    second = _ingest_flow(CONFIG, str(tmp_path))
    assert second == str(snapshot)

    shutil.rmtree(snapshot)
    assert not cached_snapshot_present(CONFIG, tmp_path)
    third = _ingest_flow(CONFIG, str(tmp_path))
    assert Path(third) == snapshot and (snapshot / "meta.json").exists()


def test_cache_key_changes_with_the_data_config(tmp_path):
    class _Context:
        class task:  # noqa: N801 - mimics TaskRunContext.task
            fn = run_ingest

    key = ingest_cache_key(_Context, {"config": CONFIG, "cache_root": str(tmp_path)})
    assert key == ingest_cache_key(_Context, {"config": CONFIG, "cache_root": str(tmp_path)})
    other = CONFIG.model_copy(update={"real_labeled_limit": 200})
    assert key != ingest_cache_key(_Context, {"config": other, "cache_root": str(tmp_path)})
