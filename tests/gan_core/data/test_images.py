"""gan_core.data.images: the conversion rules of one image, the geometry rules, bombs and the worker pool."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from gan_core.data import DataError, images
from gan_core.data.images import Geometry, ImagePool, conform_arrays, decode_images, read_header
from tests.gan_core.data.builders import image_bytes, save

GRAY32 = Geometry(32, 1, fit=False)
RGB32 = Geometry(32, 3, fit=False)


def _decode(item, geometry=RGB32) -> np.ndarray:
    row = np.zeros(geometry.shape, np.uint8)
    images.decode_into(item, "test image", geometry, row)
    return row


# --- modes (module docstring, rule 4) ---


def test_rgba_and_gray_alpha_are_composited_on_black():
    rgba = Image.new("RGBA", (32, 32), (200, 100, 50, 128))
    assert _decode(image_bytes(rgba))[0, 0].tolist() == [100, 50, 25]  # round(c * 128 / 255)
    la = Image.new("LA", (32, 32), (200, 255))
    la.putpixel((0, 0), (200, 0))
    gray = _decode(image_bytes(la), GRAY32)
    assert gray[0, 0, 0] == 0 and gray[1, 1, 0] == 200
    assert read_header(image_bytes(la), "la").gray and not read_header(image_bytes(rgba), "rgba").gray


def test_palettes_become_gray_or_rgb_by_their_entries():
    gray_palette = Image.new("P", (32, 32), 3)
    gray_palette.putpalette([value for level in range(256) for value in (level, level, level)])
    color_palette = Image.new("P", (32, 32), 1)
    color_palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    assert read_header(image_bytes(gray_palette), "gray").gray
    assert not read_header(image_bytes(color_palette), "color").gray
    assert _decode(image_bytes(gray_palette), GRAY32)[5, 5, 0] == 3
    assert _decode(image_bytes(color_palette))[5, 5].tolist() == [255, 0, 0]
    # Palette transparency is alpha, composited on black.
    transparent = color_palette.copy()
    transparent.info["transparency"] = 1
    assert _decode(image_bytes(transparent, transparency=1))[5, 5].tolist() == [0, 0, 0]


def test_sixteen_bit_one_bit_float_and_cmyk():
    levels = np.array([[65535, 25700], [0, 257]] * 16, dtype="<u2").repeat(16, axis=1)
    wide = Image.frombytes("I;16", (32, 32), levels.tobytes())
    assert _decode(image_bytes(wide), GRAY32)[0, :32:16, 0].tolist() == [255, 100]  # round(v / 257)
    one_bit = Image.new("1", (32, 32), 0)
    one_bit.putpixel((3, 3), 1)
    bits = _decode(image_bytes(one_bit), GRAY32)
    assert bits[3, 3, 0] == 255 and bits[0, 0, 0] == 0
    unit_float = Image.fromarray(np.full((32, 32), 0.5, np.float32), "F")
    assert _decode(image_bytes(unit_float, "TIFF"), GRAY32)[0, 0, 0] == 128  # 0..1 scaled by 255
    large_float = Image.fromarray(np.full((32, 32), 300.0, np.float32), "F")
    assert _decode(image_bytes(large_float, "TIFF"), GRAY32)[0, 0, 0] == 255  # clipped
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in print colours
    assert not read_header(image_bytes(cmyk, "JPEG", quality=95), "cmyk").gray
    red = _decode(image_bytes(cmyk, "JPEG", quality=95))[16, 16]
    assert red[0] > 240 and red[1] < 15 and red[2] < 15


def test_channel_conversions_use_luma_and_replication():
    rgb = Image.new("RGB", (32, 32), (255, 0, 0))
    assert _decode(image_bytes(rgb), GRAY32)[0, 0, 0] == 76  # 255 * 299 / 1000
    gray = Image.new("L", (32, 32), 77)
    assert _decode(image_bytes(gray))[0, 0].tolist() == [77, 77, 77]


def test_exif_orientation_is_applied_and_swaps_the_header_size(tmp_path):
    pixels = np.zeros((16, 32, 3), np.uint8)  # 32 wide, 16 high: left half white
    pixels[:, :16] = 255
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = save(tmp_path / "rotated.jpg", image, quality=95, exif=exif.tobytes())
    header = read_header(str(path), "rotated")
    assert (header.width, header.height) == (16, 32)
    decoded = _decode(str(path), Geometry(32, 3, fit=True))  # 16x32 is center-cropped to 16x16, resized
    # Rotated clockwise, the white left half is on top; the crop keeps the middle rows.
    upright = np.asarray(image.rotate(-90, expand=True))
    assert upright.shape == (32, 16, 3) and upright[:16].mean() > 200 and upright[16:].mean() < 50
    assert decoded[:4].mean() > 150 and decoded[-4:].mean() < 100


# --- geometry (rules 5 and 6) ---


def test_uniform_data_keeps_its_size_and_mode_and_fit_crops_the_center(tmp_path):
    rng = np.random.default_rng(0)
    exact = rng.integers(0, 256, (24, 24), dtype=np.uint8)
    path = save(tmp_path / "exact.png", exact)
    kept = decode_images([str(path)], [str(path)], None, None)
    assert kept.shape == (1, 24, 24, 1) and np.array_equal(kept[0, ..., 0], exact)
    assert np.array_equal(decode_images([str(path)], [str(path)], 24, None)[0, ..., 0], exact)  # NxN: untouched
    wide = np.zeros((32, 48), np.uint8)
    wide[:, 8:40] = 200  # the centered 32x32 square is all 200, the side bands 0
    path = save(tmp_path / "wide.png", wide)
    fitted = decode_images([str(path)], [str(path)], 16, 3)
    assert fitted.shape == (1, 16, 16, 3) and fitted.min() == fitted.max() == 200


def test_channels_follow_the_family_unless_set(tmp_path):
    gray = str(save(tmp_path / "gray.png", np.full((20, 20), 9, np.uint8)))
    color = str(save(tmp_path / "color.png", np.full((20, 20, 3), (1, 2, 3), np.uint8)))
    assert decode_images([gray, gray], ["a", "b"], None, None).shape == (2, 20, 20, 1)
    mixed = decode_images([gray, color], ["a", "b"], None, None)
    assert (
        mixed.shape == (2, 20, 20, 3) and mixed[0, 0, 0].tolist() == [9, 9, 9] and mixed[1, 0, 0].tolist() == [1, 2, 3]
    )
    assert decode_images([gray, color], ["a", "b"], None, 1).shape == (2, 20, 20, 1)


@pytest.mark.parametrize(
    ("sizes", "fragments"),
    [
        ([(20, 20), (24, 24)], ["images differ in size", "first.png is 20x20", "second.png is 24x24", "image_size"]),
        ([(80, 80)], ["80x80", "outside 16-64", "--image-size"]),
        ([(8, 8)], ["8x8", "outside 16-64"]),
        ([(32, 20)], ["32x20", "not square", "image_size"]),
    ],
    ids=["mixed", "too-large", "too-small", "not-square"],
)
def test_geometry_errors_name_the_size_files_and_the_flag(tmp_path, sizes, fragments):
    paths = [
        str(save(tmp_path / name, np.zeros(size[::-1], np.uint8)))
        for name, size in zip(("first.png", "second.png"), sizes)
    ]
    with pytest.raises(DataError) as raised:
        decode_images(paths, paths, None, None)
    message = str(raised.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message
    assert decode_images(paths, paths, 16, None).shape == (len(paths), 16, 16, 1)  # image_size is the fix


def test_conform_arrays_resizes_and_replicates_without_copying_what_fits():
    digits = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    (same,) = conform_arrays([(digits, "d")], None, None)
    assert same.shape == (5, 28, 28, 1) and np.shares_memory(same, digits)
    (rgb,) = conform_arrays([(digits, "d")], None, 3)
    assert rgb.shape == (5, 28, 28, 3) and np.array_equal(rgb[..., 2], digits)
    (bigger,) = conform_arrays([(digits, "d")], 32, 3)
    assert bigger.shape == (5, 32, 32, 3)
    with pytest.raises(DataError, match=r"images differ in size: train is 28x28 but test is 20x20"):
        conform_arrays([(digits, "train"), (digits[:, :20, :20], "test")], None, None)


# --- bad files ---


def test_truncated_and_empty_files_are_named(tmp_path):
    good = image_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good[: len(good) // 2])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"cut\.png: cannot be decoded .*re-export it or remove it"):
        decode_images([str(cut)], [str(cut)], None, None)
    with pytest.raises(DataError, match=r"empty\.png: is empty \(0 bytes\)"):
        decode_images([str(empty)], [str(empty)], None, None)


@pytest.mark.parametrize("side", [40, 64], ids=["warning-range", "error-range"])
def test_decompression_bombs_are_refused_from_the_header_without_a_warning(tmp_path, monkeypatch, side):
    # 1,600 pixels is above the limit (Pillow would only warn); 4,096 is above twice it (Pillow raises).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = str(save(tmp_path / "bomb.png", np.zeros((side, side), np.uint8)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError) as raised:
            decode_images([path], [path], None, None)
    assert "bomb.png" in str(raised.value) and "MAX_IMAGE_PIXELS" in str(raised.value)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


# --- the pool ---


@pytest.fixture
def small_chunks(monkeypatch):
    """Makes a handful of images enough for the parallel engines, in several chunks."""
    monkeypatch.setattr(images, "PARALLEL_MIN_IMAGES", 1)
    monkeypatch.setattr(images, "_CHUNK", 4)


def test_every_engine_decodes_alike_and_workers_report_errors(tmp_path, small_chunks):
    rng = np.random.default_rng(2)
    paths = [
        str(save(tmp_path / f"{index}.png", rng.integers(0, 256, (18, 18, 3), dtype=np.uint8))) for index in range(11)
    ]
    results = {}
    for engine in ("serial", "threads", "processes"):
        with ImagePool(engine, workers=2) as pool:
            results[engine] = decode_images(paths, paths, None, None, pool=pool)
    assert np.array_equal(results["serial"], results["threads"]) and np.array_equal(
        results["serial"], results["processes"]
    )
    (tmp_path / "7.png").write_bytes(b"not an image at all")
    with ImagePool("processes", workers=2) as pool:
        with pytest.raises(DataError, match=r"7\.png: cannot be decoded"):
            decode_images(paths, paths, None, None, pool=pool)
        # The failed map's results in flight are dropped with its workers: the pool still works.
        assert np.array_equal(decode_images(paths[:7], paths[:7], None, None, pool=pool), results["serial"][:7])
