"""Loading a script (benchmarks/, examples/: folders of scripts, not packages) as a module in tests."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator


@contextmanager
def loaded_script(path: Path, name: str) -> Iterator[ModuleType]:
    """Imports ``path`` as module ``name`` for the duration of the block.

    The module is registered in ``sys.modules`` while loaded, because dataclasses look their
    module up while a class is built.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
