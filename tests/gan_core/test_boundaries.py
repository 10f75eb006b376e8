"""gan_core is the library: it must import and work without Prefect installed."""

import subprocess
import sys
from pathlib import Path

import gan_core

ROOT = Path(gan_core.__file__).parent
MODULES = sorted(
    ".".join(("gan_core", *path.relative_to(ROOT).with_suffix("").parts))
    for path in ROOT.rglob("*.py")
    if path.parent != ROOT or path.stem != "__init__"
)

BLOCK_PREFECT = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "prefect" or name.startswith("prefect."):
            raise ImportError("prefect is blocked in this test: gan_core must not import it")
sys.meta_path.insert(0, Block())
import importlib
for name in {modules!r}:
    importlib.import_module(name)
print("imported", len({modules!r}))
"""


def test_every_gan_core_module_imports_with_prefect_blocked():
    assert len(MODULES) >= 10
    code = BLOCK_PREFECT.format(modules=[m.replace(".__init__", "") for m in MODULES])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {len(MODULES)}" in result.stdout


def test_no_gan_core_source_mentions_prefect_imports():
    offenders = [
        str(path) for path in Path(gan_core.__file__).parent.rglob("*.py")
        if any(line.strip().startswith(("import prefect", "from prefect")) for line in path.read_text().splitlines())
    ]
    assert offenders == []
