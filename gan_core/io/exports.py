"""Reading back an exported directory (generator, judge): its files present, its format version ours."""

from __future__ import annotations

import json
from pathlib import Path


def read_export_meta(
    directory: Path,
    meta_file: str,
    other_files: tuple[str, ...],
    format_version: int,
    error: type[Exception],
    what: str,
    fix: str,
) -> dict:
    """Returns the parsed JSON ``meta_file`` of an export after checking it is complete and current.

    Args:
        directory: The export directory.
        meta_file: Its JSON file holding ``format_version``.
        other_files: The other files it must hold.
        format_version: The version this code reads.
        error: The exception class to raise.
        what: What the directory should be, e.g. "an exported generator".
        fix: The fix to name in the message.

    Raises:
        error: a file is missing or the format version differs.
    """
    directory = Path(directory)
    names = (meta_file, *other_files)
    if not all((directory / name).is_file() for name in names):
        raise error(f"{directory} is not {what}: it needs {' and '.join(names)}; {fix}")
    meta_path = directory / meta_file
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != format_version:
        raise error(
            f"{meta_path} has format_version {meta.get('format_version')!r}, this code reads {format_version}; {fix}"
        )
    return meta
