"""Class folders as labeled data: ``folder:<dir>`` in the layout torchvision, tfds and HF ``imagefolder`` read.

Layouts:

- ``<dir>/<split>/<class>/<file>`` with split folders ``train`` and, optionally, ``test``. Without
  ``test``, ``validation`` (else ``val``) is the test split; with both, ``test`` is used and a
  warning says the other is ignored. With ``train`` alone the test split is drawn from it.
- ``<dir>/<class>/<file>`` with no split folders: a seeded stratified split holds out
  ``test_fraction`` of every class (at least 1 image of a class that has 2 or more).

Class names are the class folders' names as written (spaces, any Unicode), ordered like
torchvision's ``ImageFolder``: ``sorted()`` of the names. A class folder is read recursively, following
symlinks (a link that leads back into a folder above it is a symlink loop, and an error). Names
starting with ``.`` are hidden and ignored. A file is an image by its suffix (case-insensitive,
:data:`~gan_core.data.images.IMAGE_SUFFIXES`); other files are skipped and counted in one log line,
unless a class folder is left with no image, which is an error. Decoding and conversion follow
:mod:`gan_core.data.images`.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from gan_core.config import DataConfig
from gan_core.data.images import ImagePool, is_image_name
from gan_core.data.labeled import decode_labeled
from gan_core.data.splits import DataError, LabeledSplits, check_class_count

logger = logging.getLogger(__name__)

TRAIN_FOLDER = "train"
# Folders that may serve as the test split, in order of preference.
TEST_FOLDERS = ("test", "validation", "val")
_LAYOUT_HINT = "lay the images out as <dir>/<class>/<image> or <dir>/train/<class>/<image> (+ <dir>/test/...)"


@dataclass(frozen=True, slots=True)  # slots: a listing holds one per file, 60k of them and more
class ImageFile:
    """One image file as listed: no byte of it read yet."""

    path: str  # as reached from the root, symlinks kept
    relative: str  # relative to the listed root: the cache key's and the messages' name
    size: int
    mtime_ns: int


@dataclass
class Listing:
    """Image files found below a directory, and how many other files were skipped."""

    files: list[ImageFile] = field(default_factory=list)
    skipped: int = 0


def _loop_error(path: str, target: str) -> DataError:
    return DataError(
        f"{path}: symlink loop: it leads back to {target}, which contains it; remove the link or point it elsewhere"
    )


def _entries(directory: str) -> list[os.DirEntry]:
    try:
        with os.scandir(directory) as listing:
            return sorted((entry for entry in listing if not entry.name.startswith(".")), key=lambda e: e.name)
    except OSError as error:
        raise DataError(
            f"{directory}: cannot be listed ({error.strerror or error}); check the path and its permissions"
        ) from error


def _kind(entry: os.DirEntry) -> str:
    """'dir', 'file' or 'other' (a dangling link), following symlinks."""
    try:
        if entry.is_dir():
            return "dir"
        return "file" if entry.is_file() else "other"
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _loop_error(entry.path, entry.path) from error
        raise DataError(f"{entry.path}: cannot be read ({error.strerror or error}); check its permissions") from error


def list_images(directory: str | Path, recursive: bool, *, relative_to: str | Path | None = None) -> Listing:
    """Lists the image files below ``directory`` (hidden names ignored), following symlinks.

    Only names and ``stat`` results are read, so listing 60k files takes a fraction of a second.

    Args:
        directory: Where to look.
        recursive: Descend into sub-folders (a class folder) or not (a flat pool folder, whose
            sub-folders are skipped and counted).
        relative_to: The root that ``ImageFile.relative`` is relative to; None is ``directory``.

    Raises:
        DataError: a folder cannot be listed, or a symlink loop.
    """
    directory = os.fspath(directory)
    base = os.fspath(relative_to if relative_to is not None else directory)
    listing = Listing()
    _scan(directory, base, frozenset(), recursive, listing)
    return listing


def _scan(directory: str, base: str, ancestors: frozenset[str], recursive: bool, listing: Listing) -> None:
    real = os.path.realpath(directory)
    if real in ancestors:
        raise _loop_error(directory, real)
    for entry in _entries(directory):
        kind = _kind(entry)
        if kind == "dir" and recursive:
            _scan(entry.path, base, ancestors | {real}, recursive, listing)
        elif kind == "file" and is_image_name(entry.name):
            stat = entry.stat()
            # entry.path is base + '/' + ...: slicing is what relpath would give, at a fraction of its cost.
            relative = entry.path[len(base) + 1 :]
            listing.files.append(ImageFile(entry.path, relative, stat.st_size, stat.st_mtime_ns))
        else:
            listing.skipped += 1


@dataclass(frozen=True)
class FolderLayout:
    """What a ``folder:`` root holds: class folders per split folder, before any image is read."""

    root: Path
    class_names: tuple[str, ...]
    # Split folder name ('' without split folders) -> class name -> its image files.
    classes: dict[str, dict[str, list[ImageFile]]]
    test_folder: str | None  # the split folder serving as test; None: drawn from the rest
    ignored_folders: tuple[str, ...]  # split folders not read (validation next to test)
    skipped: int


def _class_folders(directory: str) -> tuple[list[os.DirEntry], int]:
    """The sub-folders of ``directory`` and the number of other entries (files at that level)."""
    folders, others = [], 0
    for entry in _entries(directory):
        if _kind(entry) == "dir":
            folders.append(entry)
        else:
            others += 1
    return folders, others


def _split_folders(root: Path, folders: list[os.DirEntry]) -> tuple[list[str], str | None, list[str]]:
    """(split folders to read, train first; the one serving as test; the ignored ones), or ([''], None, [])."""
    names = [entry.name for entry in folders]
    splits = [name for name in names if name in (TRAIN_FOLDER, *TEST_FOLDERS)]
    if not splits:
        return [""], None, []
    if TRAIN_FOLDER not in splits:
        raise DataError(
            f"{root} has split folder(s) {splits} but no 'train' folder; add {root}/train/<class>/... or, without "
            "split folders, put the class folders directly in it"
        )
    others = [name for name in names if name not in splits]
    if others:
        raise DataError(
            f"{root} mixes split folders {splits} with other folders {others}; move the class folders into "
            f"{root}/train (and {root}/test)"
        )
    test = next((name for name in TEST_FOLDERS if name in splits), None)
    ignored = [name for name in TEST_FOLDERS if name in splits and name != test]
    return [TRAIN_FOLDER] + ([test] if test else []), test, ignored


def scan_folder(root: str | Path) -> FolderLayout:
    """Finds the layout, the classes and every image file of a ``folder:`` source (no image is read).

    Raises:
        DataError: the folder is missing, unreadable or empty, mixes layouts, has a class folder
            without images or fewer than 2 classes, or holds a symlink loop.
    """
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DataError(
            f"folder source {root} does not exist or is not a directory; pass folder:<directory with one "
            "sub-folder of images per class>"
        )
    folders, skipped = _class_folders(str(root))
    if not folders:
        raise DataError(f"folder source {root} holds no class folders; {_LAYOUT_HINT}")
    split_names, test_folder, ignored = _split_folders(root, folders)
    classes: dict[str, dict[str, list[ImageFile]]] = {}
    for split in split_names:
        split_dir = root / split if split else root
        class_dirs, others = _class_folders(str(split_dir)) if split else (folders, 0)
        skipped += others
        if not class_dirs:
            raise DataError(f"split folder {split_dir} holds no class folders; {_LAYOUT_HINT}")
        classes[split] = {}
        for entry in class_dirs:
            listing = list_images(entry.path, recursive=True, relative_to=root)
            if not listing.files:
                raise DataError(
                    f"class folder {entry.path} holds no images ({listing.skipped} other files); add images in a "
                    "format Pillow reads (PNG, JPEG, BMP, WebP, TIFF, GIF) or remove the folder"
                )
            classes[split][entry.name] = listing.files
            skipped += listing.skipped
    class_names = tuple(sorted(classes[split_names[0]]))
    check_class_count(class_names, f"folder source {root}")
    for split in split_names[1:]:
        unknown = sorted(set(classes[split]) - set(class_names))
        if unknown:
            raise DataError(
                f"{root / split} has class folder(s) {unknown} that {root / TRAIN_FOLDER} lacks; every test class "
                "needs training images: add them to train or remove the folders"
            )
    return FolderLayout(root, class_names, classes, test_folder, tuple(ignored), skipped)


def listing_digest(kind: str, list_files: Callable[[], Iterable[ImageFile]]) -> str:
    """A digest of files' relative paths, sizes and mtimes: a cache key that reads no file's content.

    A listing that fails gives a digest of its error, so a cache key never raises (ingest reports it).
    """
    digest = hashlib.sha256(kind.encode())
    try:
        for file in list_files():
            digest.update(f"\n{file.relative}\0{file.size}\0{file.mtime_ns}".encode())
    except (DataError, OSError) as error:
        digest.update(f"\nerror:{error}".encode())
    return digest.hexdigest()[:32]


def folder_signature(root: str | Path) -> str:
    """:func:`listing_digest` of a ``folder:`` source's image files (their paths name split and class)."""

    def files() -> Iterator[ImageFile]:
        for per_class in scan_folder(root).classes.values():
            for listed in per_class.values():
                yield from listed

    return listing_digest("folder-v1", files)


def load_folder(root: str | Path, config: DataConfig, pool: ImagePool | None = None) -> LabeledSplits:
    """Reads a ``folder:`` source into labeled splits (layout and rules in the module docstring).

    Raises:
        DataError: naming the folder or file and the fix, before anything is written.
    """
    layout = scan_folder(root)
    if layout.ignored_folders:
        logger.warning(
            "%s: using %r as the test split; ignoring the split folder(s) %s",
            layout.root,
            layout.test_folder,
            list(layout.ignored_folders),
        )
    files: list[ImageFile] = []
    labels: list[int] = []
    in_test: list[bool] = []
    for split, per_class in layout.classes.items():
        for label, name in enumerate(layout.class_names):
            chosen = per_class.get(name, [])
            files += chosen
            labels += [label] * len(chosen)
            in_test += [split == layout.test_folder] * len(chosen)
    splits = decode_labeled(
        [file.path for file in files],
        [file.path for file in files],
        np.asarray(labels),
        np.asarray(in_test) if layout.test_folder else None,
        config,
        class_names=layout.class_names,
        source_used=f"folder:{layout.root}",
        test_split=layout.test_folder or "test",
        pool=pool,
    )
    how = (
        f"test split from the {layout.test_folder!r} folder"
        if layout.test_folder
        else f"seeded stratified test split ({config.test_fraction:g} per class, seed {config.seed})"
    )
    logger.info(
        "folder %s: %d images of %d classes, %s, as %s; skipped %d non-image files",
        layout.root,
        len(files),
        len(layout.class_names),
        how,
        "x".join(map(str, splits.image_shape)),
        layout.skipped,
    )
    return splits
