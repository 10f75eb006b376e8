"""``gan-augment``: run the augment or evaluate-augmentation flow, or summarise or verify a published version.

``gan-augment run --steps 500 --source sample`` and ``gan-augment evaluate-augmentation --quick``
take one flag per flow parameter, derived from the flow's signature (:mod:`flows.flow_cli`), so
the flags, their help and their defaults cannot drift.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from flows.exit_codes import exit_code, one_line
from flows.flow_cli import add_flow_arguments, run_parsed

# Local runs start an ephemeral Prefect server; its 20-30 s default start timeout is too
# tight on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# Offline machines cannot reach the telemetry endpoint; don't log an error for it every run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _run(arguments: argparse.Namespace) -> int:
    from flows.augment import AugmentParameterError, augment
    from gan_core.quality.gate import GateFailed

    return run_parsed(augment, arguments, (AugmentParameterError, GateFailed), "gan-augment")


def _evaluate(arguments: argparse.Namespace) -> int:
    from flows.evaluate_augmentation import EvaluateParameterError, evaluate_augmentation

    return run_parsed(evaluate_augmentation, arguments, (EvaluateParameterError,), "gan-augment")


def _open_version(arguments: argparse.Namespace, check: bool):
    """(version dir, manifest, verify summary or None), or the exit code after printing the error."""
    from gan_core import publish
    from gan_core.io import store

    try:
        target = store.as_target(arguments.path, "path")
        if store.is_remote(target):
            store.check_credentials(target)
        version_dir = (
            target
            if store.is_file(store.join(target, publish.MANIFEST_FILE))
            else publish.resolve_version(target, arguments.version)
        )
        manifest = publish.read_manifest(version_dir)
        verified = publish.verify(version_dir) if check else None
    except (OSError, ValueError, publish.PublishError) as error:
        # A bad --version or URL is a parameter error (2); a missing or corrupt version is 7, a full disk 8.
        code = exit_code(error) or (2 if isinstance(error, ValueError) else 7)
        print(f"gan-augment: {one_line(error)}", file=sys.stderr)
        return code
    return version_dir, manifest, verified


def _verify(arguments: argparse.Namespace) -> int:
    opened = _open_version(arguments, check=True)
    if isinstance(opened, int):
        return opened
    version_dir, manifest, verified = opened
    print(
        f"OK {manifest['dataset_name']} {manifest['version_name']}: {verified['shards']} shards, "
        f"{verified['rows']} rows, {verified['bytes']:,} bytes re-hashed ({version_dir})"
    )
    return 0


def _show(arguments: argparse.Namespace) -> int:
    opened = _open_version(arguments, check=arguments.verify)
    if isinstance(opened, int):
        return opened
    version_dir, manifest, verified = opened
    if arguments.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
        return 0
    metrics = manifest.get("metrics", {})
    lines = [
        f"{manifest['dataset_name']} {manifest['version_name']}  ({version_dir})",
        f"  created      {manifest['created_at']}   code {manifest['code_version']}",
        f"  source       {manifest.get('source_used')}  fingerprint {str(manifest.get('source_fingerprint'))[:16]}",
        f"  generator    {str(manifest.get('generator_hash'))[:16]}",
        f"  rows         {manifest['rows_per_split']}  by source {manifest['rows_per_source']}",
        f"  per label    {manifest['rows_per_label']}",
        f"  shards       {len(manifest['shards'])} ({sum(s['bytes'] for s in manifest['shards']) / 1e6:.1f} MB)",
        "  metrics      " + ", ".join(
            f"{k}={v:.4g}" for k, v in sorted(metrics.items())
            if isinstance(v, (int, float)) and not k.startswith("count_class_")
        ),
    ]
    gate = manifest.get("gate")
    if gate:
        lines.append(f"  gate         {'PASSED' if gate.get('passed') else 'FAILED'}")
    if verified is not None:
        lines.append(f"  verify       OK: {verified['shards']} shards, {verified['rows']} rows re-hashed")
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``gan-augment`` argument parser."""
    from flows.augment import augment
    from flows.evaluate_augmentation import evaluate_augmentation

    parser = argparse.ArgumentParser(prog="gan-augment", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the augment flow (ingest, train, judge, publish)")
    add_flow_arguments(run, augment)
    evaluate = commands.add_parser(
        "evaluate-augmentation", help="run the downstream-utility flow (does GAN data help a classifier?)"
    )
    add_flow_arguments(evaluate, evaluate_augmentation)
    show = commands.add_parser("show", help="summarise a published version from its manifest")
    verify = commands.add_parser("verify", help="re-hash a published version against its manifest (exit 7 if bad)")
    for command in (show, verify):
        command.add_argument("path", nargs="?", default="outputs/datasets/mnist-augmented",
                             help="a dataset directory (uses its LATEST) or a version directory; "
                                  "a local path or s3://bucket/prefix/<dataset> (AWS_* environment)")
        command.add_argument("--version", default="latest", help="version number or 'latest'")
    show.add_argument("--verify", action="store_true", help="re-hash every shard against the manifest")
    show.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gan-augment`` command."""
    arguments = build_parser().parse_args(argv)
    commands = {"run": _run, "evaluate-augmentation": _evaluate, "show": _show, "verify": _verify}
    return commands[arguments.command](arguments)


if __name__ == "__main__":
    sys.exit(main())
