"""The PNG encoder: every decoder a consumer uses reads back the exact pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gan_core.imaging import decode_png, encode_png, encode_pngs


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    digits = np.zeros((64, 28, 28), dtype=np.uint8)
    digits[:, 6:22, 10:18] = rng.integers(0, 256, (64, 16, 8), dtype=np.uint8)  # a stroke on black
    digits[0] = 255
    digits[1] = rng.integers(0, 256, (28, 28), dtype=np.uint8)  # noise: nothing to compress
    return digits


def test_pillow_decodes_the_exact_pixels_as_8_bit_grayscale(images):
    encoded = encode_pngs(images)
    assert len(encoded) == len(images)
    for data, image in zip(encoded, images):
        with Image.open(io.BytesIO(data)) as decoded:
            assert decoded.mode == "L" and decoded.size == (28, 28)
            decoded.verify()  # checks every chunk's CRC
        np.testing.assert_array_equal(decode_png(data), image)


def test_tensorflow_decodes_the_exact_pixels(images):
    tf = pytest.importorskip("tensorflow")
    for data, image in zip(encode_pngs(images[:8]), images[:8]):
        np.testing.assert_array_equal(tf.io.decode_png(data, channels=1).numpy()[..., 0], image)


def test_non_square_images_and_a_channel_axis(images):
    wide = np.arange(3 * 5 * 7, dtype=np.uint8).reshape(3, 5, 7)
    for data, image in zip(encode_pngs(wide[..., None]), wide):
        np.testing.assert_array_equal(decode_png(data), image)
    assert encode_png(wide[0]) == encode_pngs(wide)[0]


def test_the_encoding_is_deterministic_and_smaller_than_raw(images):
    assert encode_pngs(images) == encode_pngs(images.copy())
    assert len(encode_png(np.zeros((28, 28), np.uint8))) < 28 * 28 // 4


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 28, 28), np.float32), np.zeros((28, 28), np.uint8), np.zeros((2, 28, 28, 3), np.uint8)]
)
def test_anything_but_a_uint8_grayscale_batch_is_refused(bad):
    with pytest.raises(ValueError, match="uint8 grayscale images"):
        encode_pngs(bad)
