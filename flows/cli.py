"""``gan-augment``: run the augment flow, or summarise a published version.

``gan-augment run --epochs 5 --source sample`` takes one flag per flow parameter; the flags,
their help and their defaults are derived from the flow's signature, so they cannot drift.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any, Sequence

# Local runs start an ephemeral Prefect server; its 20-30 s default start timeout is too
# tight on a busy 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# Offline machines cannot reach the telemetry endpoint; don't log an error for it every run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """Unwraps Annotated and Optional; returns (type, is_optional)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        annotation = members[0]
    return annotation, optional


def _parse_optional(kind: type):
    def parse(text: str):
        return None if text.lower() in ("", "none", "null") else kind(text)

    return parse


def _add_flow_arguments(parser: argparse.ArgumentParser, flow_obj) -> None:
    properties = flow_obj.parameters.model_dump()["properties"]
    hints = typing.get_type_hints(flow_obj.fn, include_extras=True)
    for name, parameter in inspect.signature(flow_obj.fn).parameters.items():
        kind, optional = _base_type(hints[name])
        flag = "--" + name.replace("_", "-")
        help_text = f"{properties.get(name, {}).get('description', '')} (default: {parameter.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=parameter.default, help=help_text)
        elif typing.get_origin(kind) is typing.Literal:
            parser.add_argument(flag, choices=typing.get_args(kind), default=parameter.default, help=help_text)
        else:
            parse = _parse_optional(kind) if optional else kind
            parser.add_argument(flag, type=parse, default=parameter.default, help=help_text, dest=name)


def _run(arguments: argparse.Namespace) -> int:
    from flows.augment import augment
    from prefect.exceptions import ParameterTypeError

    from flows.augment import AugmentParameterError
    from tasks.quality import GateFailedError

    names = inspect.signature(augment.fn).parameters
    parameters = {name: getattr(arguments, name) for name in names}
    try:
        summary = augment(**parameters)
    except (AugmentParameterError, ParameterTypeError, GateFailedError) as error:
        print(f"gan-augment: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _show(arguments: argparse.Namespace) -> int:
    from gan_core import publish

    target = Path(arguments.path)
    try:
        version_dir = target if (target / publish.MANIFEST_FILE).exists() else publish.resolve_version(
            target, arguments.version
        )
        manifest = publish.read_manifest(version_dir)
        verified = publish.verify(version_dir) if arguments.verify else None
    except (OSError, ValueError, publish.PublishError) as error:
        print(f"gan-augment show: {error}", file=sys.stderr)
        return 2
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

    parser = argparse.ArgumentParser(prog="gan-augment", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the augment flow (ingest, train, judge, publish)")
    _add_flow_arguments(run, augment)
    show = commands.add_parser("show", help="summarise a published version from its manifest")
    show.add_argument("path", nargs="?", default="outputs/datasets/mnist-augmented",
                      help="a dataset directory (uses its LATEST) or a version directory")
    show.add_argument("--version", default="latest", help="version number or 'latest'")
    show.add_argument("--verify", action="store_true", help="re-hash every shard against the manifest")
    show.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gan-augment`` command."""
    arguments = build_parser().parse_args(argv)
    return _run(arguments) if arguments.command == "run" else _show(arguments)


if __name__ == "__main__":
    sys.exit(main())
