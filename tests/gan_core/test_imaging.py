"""Image arrays and the PNG encoder: one checked (N, H, W, C) form, and every decoder a consumer
uses reads back the exact pixels, grayscale and RGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gan_core.imaging import FirstPerClass, check_images, class_grid, decode_png, encode_png, encode_pngs, upscale


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    digits = np.zeros((64, 28, 28, 1), dtype=np.uint8)
    digits[:, 6:22, 10:18] = rng.integers(0, 256, (64, 16, 8, 1), dtype=np.uint8)  # a stroke on black
    digits[0] = 255
    digits[1] = rng.integers(0, 256, (28, 28, 1), dtype=np.uint8)  # noise: nothing to compress
    return digits


@pytest.fixture(scope="module")
def colour_images():
    rng = np.random.default_rng(1)
    pictures = np.zeros((16, 32, 32, 3), dtype=np.uint8)
    pictures[:, 4:20, 8:30] = rng.integers(0, 256, (16, 16, 22, 3), dtype=np.uint8)
    pictures[0, ..., 0] = 255  # pure red: channels must not be swapped or mixed
    return pictures


def test_check_images_gives_one_four_dimensional_form():
    gray = np.zeros((2, 16, 16), np.uint8)
    assert check_images(gray).shape == (2, 16, 16, 1)
    assert check_images(np.zeros((2, 16, 16, 3), np.uint8)).shape == (2, 16, 16, 3)
    with pytest.raises(ValueError, match="C 1 \\(grayscale\\) or 3 \\(RGB\\)"):
        check_images(np.zeros((2, 16, 16, 2), np.uint8))
    with pytest.raises(ValueError, match="must be 28x28"):
        check_images(gray, side=28)
    with pytest.raises(ValueError, match="must have 3 channel"):
        check_images(gray, channels=3)
    with pytest.raises(ValueError, match="uint8"):
        check_images(gray.astype(np.float32))


def test_pillow_decodes_the_exact_pixels_as_8_bit_grayscale(images):
    encoded = encode_pngs(images)
    assert len(encoded) == len(images)
    for data, image in zip(encoded, images):
        with Image.open(io.BytesIO(data)) as decoded:
            assert decoded.mode == "L" and decoded.size == (28, 28)
            decoded.verify()  # checks every chunk's CRC
        np.testing.assert_array_equal(decode_png(data), image)


def test_pillow_decodes_the_exact_pixels_as_8_bit_rgb(colour_images):
    for data, image in zip(encode_pngs(colour_images), colour_images):
        with Image.open(io.BytesIO(data)) as decoded:
            assert decoded.mode == "RGB" and decoded.size == (32, 32)
            decoded.verify()
        np.testing.assert_array_equal(decode_png(data), image)
    red = decode_png(encode_pngs(colour_images[:1])[0])
    assert red[..., 0].min() == 255 and decode_png(encode_pngs(colour_images[:1])[0], channels=1).shape == (32, 32, 1)


def test_tensorflow_decodes_the_exact_pixels(images, colour_images):
    tf = pytest.importorskip("tensorflow")
    for data, image in zip(encode_pngs(images[:8]), images[:8]):
        np.testing.assert_array_equal(tf.io.decode_png(data, channels=1).numpy(), image)
    for data, image in zip(encode_pngs(colour_images[:8]), colour_images[:8]):
        np.testing.assert_array_equal(tf.io.decode_png(data, channels=3).numpy(), image)


def test_non_square_images_and_no_channel_axis():
    wide = np.arange(3 * 5 * 7, dtype=np.uint8).reshape(3, 5, 7)
    for data, image in zip(encode_pngs(wide), wide):
        np.testing.assert_array_equal(decode_png(data)[..., 0], image)
    assert encode_png(wide[0]) == encode_pngs(wide)[0]


def test_the_encoding_is_deterministic_and_smaller_than_raw(images):
    assert encode_pngs(images) == encode_pngs(images.copy())
    assert len(encode_png(np.zeros((28, 28), np.uint8))) < 28 * 28 // 4


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 28, 28), np.float32), np.zeros((28, 28), np.uint8), np.zeros((2, 28, 28, 4), np.uint8)]
)
def test_anything_but_a_uint8_grayscale_or_rgb_batch_is_refused(bad):
    with pytest.raises(ValueError, match="images to encode"):
        encode_pngs(bad)


def test_grids_keep_the_channels(colour_images):
    labels = np.arange(len(colour_images)) % 4
    grid = class_grid(colour_images, labels, num_classes=4, per_class=3)
    assert grid.shape == (4 * 34 + 2, 3 * 34 + 2, 3)
    np.testing.assert_array_equal(grid[2:34, 2:34], colour_images[0])  # class 0's first image, top left
    assert upscale(grid, 2).shape == (2 * grid.shape[0], 2 * grid.shape[1], 3)
    kept = FirstPerClass(4, 3, (32, 32, 3))
    kept.add(colour_images[:8], labels[:8])
    kept.add(colour_images[8:], labels[8:])
    assert kept.count == 12
    np.testing.assert_array_equal(kept.grid(), grid)
