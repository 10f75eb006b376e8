"""``gan-augment run`` from a terminal, in its own process, in label-scarce mode."""

from __future__ import annotations

import pytest

from tests.cli_runs import cli_command, cli_env, published_manifest, run_cli

pytestmark = pytest.mark.slow


def test_a_label_scarce_run_from_the_cli_publishes_with_the_teacher_as_judge(tmp_path):
    command = cli_command(
        tmp_path, "scarce", "--real-labeled-limit", "200", "--use-unlabeled", "--teacher-steps", "3",
        "--pseudo-label-min-confidence", "0", "--pseudo-label-max-per-class", "30", "--steps", "20", "--include-real",
    )  # fmt: skip
    done = run_cli(command, cli_env(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pseudo-label" in done.stderr + done.stdout  # the stage ran and said so

    manifest = published_manifest(tmp_path / "scarce" / "datasets")
    labeled, pseudo = manifest["labeled_data"], manifest["pseudo_labels"]
    assert labeled["use_unlabeled"] is True and labeled["labeled_count"] == 200
    assert labeled["pool_count"] == pseudo["pool_count"] == 8000 - 200
    assert manifest["configs"]["pseudo"]["teacher"]["steps"] == 3 and max(pseudo["per_class"]) == 30
    assert manifest["metrics"]["judge_accuracy"] == pytest.approx(pseudo["teacher_test_accuracy"])
    assert manifest["rows_per_source"]["synthetic"] > 0
    assert manifest["rows_per_source"]["real"] == 200 + 2000  # only the N labeled images, plus test
