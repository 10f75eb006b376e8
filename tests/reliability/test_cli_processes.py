"""The real ``gan-augment run`` process under SIGKILL, and its expected failures on the terminal.

Each test starts the console script as a subprocess with its own ``PREFECT_HOME`` (so its own
temporary Prefect server). These are the slowest reliability tests (each run starts a server and
trains a little), so they are marked ``slow``; CI still runs them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_runs import cli_command, cli_env, published_manifest, run_cli
from tests.reliability.conftest import PROJECT, child_env, wait_for

pytestmark = pytest.mark.slow

CHECKPOINT_EVERY = 10


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from the parent links in /proc."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    parents[int(name)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _latest_checkpoint(work: Path) -> int:
    states = list(work.glob("runs/*/checkpoints/checkpoint"))
    if not states:
        return 0
    match = re.search(r'model_checkpoint_path: "ckpt-(\d+)"', states[0].read_text())
    return int(match.group(1)) if match else 0


def test_sigkill_mid_training_resumes_to_the_same_generator_and_leaves_no_orphans(tmp_path):
    env = cli_env(tmp_path)
    uninterrupted = run_cli(cli_command(tmp_path, "whole", "--checkpoint-every", str(CHECKPOINT_EVERY)), env)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    assert "E0000" not in uninterrupted.stderr  # the grappler remapper line is gone
    expected = published_manifest(tmp_path / "whole" / "datasets")

    command = cli_command(tmp_path, "killed", "--checkpoint-every", str(CHECKPOINT_EVERY))
    cli = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tmp_path / "killed" / "work"
    children: set[int] = set()

    def trained_past_first_checkpoint() -> bool:
        children.update(descendants(cli.pid))  # the Prefect server and anything else it starts
        return _latest_checkpoint(work) >= 2 * CHECKPOINT_EVERY

    wait_for(trained_past_first_checkpoint, 600, "two training checkpoints", interval=0.2)
    cli.send_signal(signal.SIGKILL)
    cli.wait(timeout=30)
    at_kill = _latest_checkpoint(work)
    assert at_kill < 60, "training finished before the kill; the test proved nothing"
    assert children, "the CLI started no child processes (expected the temporary Prefect server)"
    wait_for(
        lambda: not any(alive(pid) for pid in children), 15, f"children {sorted(children)} of the killed CLI to end"
    )

    resumed = run_cli(command, env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from step {at_kill}" in resumed.stderr  # lost at most one checkpoint interval
    got = published_manifest(tmp_path / "killed" / "datasets")
    assert got["generator_hash"] == expected["generator_hash"]
    assert [s["sha256"] for s in got["shards"]] == [s["sha256"] for s in expected["shards"]]


def test_expected_failures_end_in_one_line_with_their_exit_code(tmp_path):
    env = cli_env(tmp_path)
    idx = tmp_path / "one-digit"
    from tests.reliability.test_hostile_input import DATA_CASES, write_idx_dir

    write_idx_dir(idx, compress=False)
    DATA_CASES["one digit only"][0](idx)
    cases = [
        (["--dataset-name", "../../etc"], 2, "dataset_name"),
        (["--source", f"idx:{idx}"], 3, "no images of class(es)"),
        (["--precision", "mixed_float16"], 4, "mixed_float16"),
        # Zero accepted even with the acceptance check off: a gate failure, not a publish crash.
        (["--min-confidence", "1.0", "--min-acceptance-rate", "none"], 5, "acceptance_rate 0.000 < min 0.000"),
    ]
    for extra, code, fragment in cases:
        done = run_cli(cli_command(tmp_path, f"case{code}", "--checkpoint-every", str(CHECKPOINT_EVERY), *extra), env)
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == code, done.stderr[-3000:]
        assert last.startswith("gan-augment: ") and fragment in last, last
        assert "E0000" not in done.stderr
        # No traceback of ours on the terminal. Under load Prefect's own services sometimes log
        # an internal failure (e.g. a heartbeat lost while the temporary server stops), which may
        # chain our error as its context; such a block must end in Prefect's exception, not ours.
        for block in done.stderr.split("Traceback (most recent call last)")[1:]:
            unindented = [line for line in block.splitlines()[1:] if line and not line[0].isspace()]
            final = unindented[0] if unindented else ""  # the exception that ends this traceback
            assert not final.startswith(("gan_core", "flows")), done.stderr
        # The run's state message carries the same message.
        (state,) = [line for line in done.stderr.splitlines() if "Flow run" in line and "in state Failed" in line]
        assert fragment in state
        assert not (tmp_path / f"case{code}" / "datasets" / "tiny").exists()  # nothing published
    shutil.rmtree(tmp_path / "prefect-home", ignore_errors=True)


def test_the_guard_ends_a_lingering_child_of_a_killed_cli(tmp_path):
    """Any process the CLI starts, not only Prefect's server: a plain sleep started by the CLI."""
    code = (
        "import subprocess, sys, time\n"
        "from flows import child_guard\n"
        "child_guard.start()\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], cwd=PROJECT, env=child_env(), stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    started = time.monotonic()
    wait_for(lambda: not alive(child), 10, "the orphaned child to be ended")
    assert time.monotonic() - started < 10
