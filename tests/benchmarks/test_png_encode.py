"""The PNG benchmark runs end to end and records every encoder beside ours."""

from __future__ import annotations

import json

from benchmarks import png_encode


def test_one_round_writes_every_encoder_with_its_size_and_ratio(tmp_path):
    results = tmp_path / "png.json"
    document = png_encode.main(["--rounds", "1", "--results", str(results)])
    assert json.loads(results.read_text()) == document
    encoders = document["encoders"]
    assert len(encoders) == 3 and document["images"] == 8000
    ours = next(iter(encoders.values()))
    assert ours["slower_than_ours"] == 1.0
    # The digits are mostly black: every encoder compresses them well below the 784 raw bytes.
    assert all(0 < encoder["mean_png_bytes"] < 784 / 2 for encoder in encoders.values())
