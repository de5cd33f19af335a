"""What an ELF program needs before it can run: its interpreter (the dynamic loader, `PT_INTERP`) and
the libraries it names (`DT_NEEDED`), read from the file's own headers. Pure reading, no `ldd`: ldd runs
the loader, which inside a jail is exactly what may be missing.

`read_needs(file)` takes an open binary file; `NotElf` when it is not one this reader understands
(a script, a truncated file): the caller decides what that means.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 1, 5, 15, 29


class NotElf(ValueError):
    """Not an ELF file this reader understands."""


@dataclass(frozen=True)
class ElfNeeds:
    interpreter: str | None  # the loader's path; None for a static program or a shared library
    needed: tuple[str, ...]  # DT_NEEDED sonames, in order
    runpath: tuple[str, ...]  # DT_RUNPATH (or DT_RPATH) directories, $ORIGIN left as written


@dataclass(frozen=True)
class _Segment:
    kind: int
    offset: int
    vaddr: int
    filesz: int


def read_needs(file: BinaryIO) -> ElfNeeds:
    ident = file.read(64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise NotElf("not an ELF file")
    wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
    # where e_phoff and e_phentsize/e_phnum sit, and the program header's layout: which of its values
    # are p_type, p_offset, p_vaddr and p_filesz (64-bit puts p_flags second)
    if wide:
        (phoff,), (phentsize, phnum) = (
            struct.unpack_from(order + "Q", ident, 0x20),
            struct.unpack_from(order + "HH", ident, 0x36),
        )
        layout, fields = order + "IIQQQQQQ", (0, 2, 3, 5)
    else:
        (phoff,), (phentsize, phnum) = (
            struct.unpack_from(order + "I", ident, 0x1C),
            struct.unpack_from(order + "HH", ident, 0x2A),
        )
        layout, fields = order + "IIIIIIII", (0, 1, 2, 4)
    if phentsize < struct.calcsize(layout) or phnum > 4096:
        raise NotElf("unexpected program headers")
    segments = []
    for index in range(phnum):
        file.seek(phoff + index * phentsize)
        raw = file.read(struct.calcsize(layout))
        if len(raw) < struct.calcsize(layout):
            raise NotElf("truncated program headers")
        values = struct.unpack(layout, raw)
        segments.append(_Segment(*(values[i] for i in fields)))
    interpreter = None
    for segment in segments:
        if segment.kind == PT_INTERP:
            file.seek(segment.offset)
            interpreter = file.read(segment.filesz).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    needed, runpath = _dynamic(file, segments, order, wide)
    return ElfNeeds(interpreter, needed, runpath)


def _dynamic(file: BinaryIO, segments: list[_Segment], order: str, wide: bool) -> tuple[tuple[str, ...], ...]:
    """DT_NEEDED and DT_RUNPATH/DT_RPATH, from the dynamic segment and the string table it points at."""
    dynamic = next((s for s in segments if s.kind == PT_DYNAMIC), None)
    if dynamic is None:
        return (), ()
    entry = order + ("qQ" if wide else "iI")
    size = struct.calcsize(entry)
    file.seek(dynamic.offset)
    table = file.read(dynamic.filesz)
    tags: list[tuple[int, int]] = []
    for start in range(0, len(table) - size + 1, size):
        tag, value = struct.unpack_from(entry, table, start)
        if tag == DT_NULL:
            break
        tags.append((tag, value))
    strtab = next((value for tag, value in tags if tag == DT_STRTAB), None)
    if strtab is None:
        return (), ()
    base = _file_offset(segments, strtab)

    def string(offset: int) -> str:
        file.seek(base + offset)
        return file.read(4096).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    needed = tuple(string(value) for tag, value in tags if tag == DT_NEEDED)
    paths = [string(value) for tag, value in tags if tag in (DT_RUNPATH, DT_RPATH)]
    return needed, tuple(p for path in paths for p in path.split(":") if p)


def _file_offset(segments: list[_Segment], address: int) -> int:
    for segment in segments:
        if segment.kind == PT_LOAD and segment.vaddr <= address < segment.vaddr + segment.filesz:
            return address - segment.vaddr + segment.offset
    raise NotElf("the string table is outside every loaded segment")
