"""gan_core.machine: the facts a benchmark timing is reported with."""

from __future__ import annotations

import json
import os

from gan_core import machine


def test_machine_info_is_json_ready_and_names_this_machine():
    info = machine.machine_info()
    assert json.loads(json.dumps(info)) == info
    assert info["nproc"] >= 1 and info["cpu_count"] >= info["nproc"]
    assert isinstance(info["cpu_model"], str) and info["cpu_model"]
    assert info["tensorflow"].startswith("2.") and info["keras"].startswith("3.")
    assert isinstance(info["gpus"], list)


def test_load_average_matches_the_os():
    average = machine.load_average()
    assert average is not None and len(average) == 3
    assert all(value >= 0 for value in average)
    assert hasattr(os, "getloadavg")
