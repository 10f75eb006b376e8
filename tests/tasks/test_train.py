from prefect.client.orchestration import get_client
from prefect.logging import disable_run_logger
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from gan_core.config import ModelConfig, TrainConfig
from gan_core.gan.sampling import load_generator
from gan_core.gan.stage import run_key
from tasks.train import train_task

TINY_MODEL = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


def test_run_key_ignores_the_budget_but_not_other_settings():
    base = TrainConfig(steps=2)
    assert run_key("f" * 64, TINY_MODEL, base) == run_key("f" * 64, TINY_MODEL, base.model_copy(update={"steps": 9}))
    assert run_key("f" * 64, TINY_MODEL, base) != run_key("f" * 64, TINY_MODEL, base.model_copy(update={"seed": 1}))
    assert run_key("f" * 64, TINY_MODEL, base) != run_key("e" * 64, TINY_MODEL, base)


def test_train_task_exports_a_generator_and_reports_progress(prefect_harness, small_snapshot, tmp_path):
    with disable_run_logger():
        result = train_task.fn(str(small_snapshot), TINY_MODEL, TrainConfig(steps=4, batch_size=32, log_every=2), str(tmp_path))
    assert [row["step"] for row in result.history] == [2, 4]
    assert result.images_per_second > 0
    assert load_generator(result.generator_dir).content_hash == result.generator_hash
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["gan-training-progress"])))
    assert artifacts and artifacts[0].data == 100.0
