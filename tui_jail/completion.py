"""Tab completion of a path typed in the wizard's file dialogs (open a saved spec, save it): a read of
one directory, kept out of the screens. Relative paths complete against the directory the wizard
saves into, as the dialog resolves them."""

from __future__ import annotations

import os
from pathlib import Path


def complete(text: str, base: Path) -> tuple[str, list[str]]:
    """`text` extended by the longest prefix common to the entries of its directory that start with its
    last part (a single directory gets its `/`), and those entries (directories with a `/`), sorted.
    Dot files only when the part typed starts with a dot. Nothing to add: `text` as it is."""
    head, slash, part = text.rpartition("/")
    folder = Path(head + slash) if slash else Path()
    directory = folder if folder.is_absolute() else base / folder
    try:
        with os.scandir(directory) as entries:
            found = sorted(
                (entry.name, _is_dir(entry))
                for entry in entries
                if entry.name.startswith(part) and (part.startswith(".") or not entry.name.startswith("."))
            )
    except OSError:
        return text, []
    if not found:
        return text, []
    common = os.path.commonprefix([name for name, _ in found])  # noqa: RUF071 — names, character by character
    completed = text[: len(text) - len(part)] + common
    if len(found) == 1 and found[0][1]:
        completed += "/"
    return completed, [name + "/" if is_dir else name for name, is_dir in found]


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
