import numpy as np
import pytest

from gan_core.config import ModelConfig
from gan_core.gan.models import build_generator
from gan_core.gan.sampling import GeneratorLoadError, export_generator, grid_png, load_generator
from gan_core.imaging import decode_png

TINY = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


@pytest.fixture
def exported(tmp_path):
    model = build_generator(TINY)
    digest = export_generator(model, TINY, tmp_path / "gen", class_names=tuple("abcdefghij"), extra={"epochs": 1})
    return model, tmp_path / "gen", digest


def test_export_is_deterministic_and_round_trips(exported, tmp_path):
    model, directory, digest = exported
    again = export_generator(model, TINY, tmp_path / "again", class_names=tuple("abcdefghij"), extra={"epochs": 1})
    assert again == digest
    loaded = load_generator(directory)
    for stored, original in zip(loaded.model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(stored, original)
    assert loaded.content_hash == digest


def test_generation_is_seeded_uint8_and_per_class(exported):
    _, directory, _ = exported
    generator = load_generator(directory)
    first = generator.generate(np.array([0, 1, 2]), seed=5)
    assert first.shape == (3, 28, 28, 1) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, generator.generate(np.array([0, 1, 2]), seed=5))
    assert not np.array_equal(first, generator.generate(np.array([0, 1, 2]), seed=6))
    images, labels = generator.generate_per_class(4, seed=0)
    assert images.shape == (40, 28, 28, 1) and np.bincount(labels).tolist() == [4] * 10


def test_grid_png_has_one_row_per_class(exported):
    _, directory, _ = exported
    grid = decode_png(grid_png(load_generator(directory), seed=0, per_class=3, scale=1))
    assert grid.shape == (10 * 30 + 2, 3 * 30 + 2, 1)


def test_out_of_range_labels_are_rejected(exported):
    _, directory, _ = exported
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        load_generator(directory).generate(np.array([10]), seed=0)


def test_a_directory_that_is_not_an_export_is_named_in_the_error(tmp_path):
    with pytest.raises(GeneratorLoadError, match="not an exported generator"):
        load_generator(tmp_path)


def test_weights_from_another_architecture_are_refused(exported, tmp_path):
    _, directory, _ = exported
    wider = ModelConfig(latent_dim=8, generator_width=16, discriminator_width=8)
    export_generator(build_generator(wider), wider, tmp_path / "wide")
    (directory / "weights.npz").write_bytes((tmp_path / "wide" / "weights.npz").read_bytes())
    with pytest.raises(GeneratorLoadError, match="does not match"):
        load_generator(directory)


def test_chunked_generation_draws_the_same_samples_whatever_the_chunk_size(exported):
    _, directory, _ = exported
    generator = load_generator(directory)
    images, labels = generator.generate_per_class(250, seed=3)  # 2,500: three blocks of 1,024
    for chunk_size in (1024, 2048, 4096):
        chunks = list(generator.iter_per_class(250, seed=3, chunk_size=chunk_size))
        assert [len(chunk_labels) for _, chunk_labels in chunks][:-1] == [chunk_size] * (len(chunks) - 1)
        np.testing.assert_array_equal(np.concatenate([chunk for chunk, _ in chunks]), images)
        np.testing.assert_array_equal(np.concatenate([chunk_labels for _, chunk_labels in chunks]), labels)
    with pytest.raises(ValueError, match="multiple of 1024"):
        next(generator.iter_per_class(250, seed=3, chunk_size=1000))


def test_a_slice_of_the_stream_holds_exactly_the_samples_the_whole_stream_has_there(exported):
    _, directory, _ = exported
    generator = load_generator(directory)
    images, labels = generator.generate_per_class(250, seed=3)
    for start, stop in ((1024, 2048), (2048, 2500), (1024, None)):
        ((chunk, chunk_labels),) = list(generator.iter_per_class(250, seed=3, chunk_size=2048, start=start, stop=stop))
        np.testing.assert_array_equal(chunk, images[start:stop])
        np.testing.assert_array_equal(chunk_labels, labels[start:stop])
    with pytest.raises(ValueError, match="start must be a multiple of 1024"):
        next(generator.iter_per_class(250, seed=3, chunk_size=1024, start=100))
