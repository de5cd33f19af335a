"""Can the jail's programs run at all? The ELF loader and libraries of the jail's /bin/sh and of the
programs verify's probes run, looked up as the jail will see them, through the spec's mounts.

A path inside the jail is read where it comes from: below a mount's target, in the host's source;
elsewhere, in the jail root's own tree. Symbolic links resolve inside the jail (an absolute link is
relative to the jail's /), as the loader will see them. So the answer holds before the jail is
applied (the mounts screen asks it before an entry is deleted) and after (verify), and it names the
mounts each program depends on. Libraries are looked up in DT_RUNPATH, then the directories a glibc
loader searches without an ld.so.cache: the multiarch ones, then /lib64, /usr/lib64, /lib, /usr/lib.
"""

from __future__ import annotations

import posixpath
import stat
import sys
from dataclasses import dataclass, field
from typing import BinaryIO

from tui_jail.core.elf import NotElf, read_needs
from tui_jail.core.spec import Mount, Spec
from tui_jail.paths.system import SystemRoot

PROGRAMS = ("/bin/sh", "stat", "readlink")  # the shell every exec job starts in, and what the probes run
PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")  # the launcher's
_MULTIARCH = getattr(sys.implementation, "_multiarch", "")
LIBRARY_DIRS = (
    *((f"/lib/{_MULTIARCH}", f"/usr/lib/{_MULTIARCH}") if _MULTIARCH else ()),
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)
MAX_LINKS = 40  # the kernel's own limit on links followed in one lookup


@dataclass
class Needs:
    """What one program needs, as found in the jail."""

    program: str  # as asked for
    path: str | None = None  # where it is in the jail; None: not there
    # ("its ELF loader", "/lib64/ld-linux-x86-64.so.2"), ("the library", "libc.so.6"), ("the program", "stat")
    missing: list[tuple[str, str]] = field(default_factory=list)
    mounts: set[str] = field(default_factory=set)  # mount targets (relative, as in the spec) it reads through

    def describe(self) -> str:
        lacks = ", ".join(f"{what} {name}" for what, name in self.missing)
        return f"{self.program} cannot run in the jail: missing {lacks}"


class JailView:
    """Paths inside the jail, read through the spec's (expanded) mounts from the system root."""

    def __init__(self, spec: Spec, system: SystemRoot, mounts: tuple[Mount, ...]) -> None:
        self.spec, self.system = spec, system
        # deepest first: a mount inside another one shadows it; an optional one absent here is not made
        present = [m for m in mounts if not (m.optional and system.stat(m.source) is None)]
        self.mounts = sorted(present, key=lambda m: -m.target.count("/"))

    def backing(self, inside: str) -> tuple[str | None, str | None]:
        """The system-root path that holds `inside` (None: an entry `exclude` leaves out), and the target
        of the mount it lies under (if any)."""
        relative = inside.strip("/")
        for mount in self.mounts:
            if relative == mount.target or relative.startswith(mount.target + "/"):
                rest = relative[len(mount.target) :].lstrip("/")
                if rest.split("/")[0] in mount.exclude:
                    return None, mount.target
                return posixpath.join(mount.source, rest), mount.target
        return self.spec.jail_path(relative) if relative else self.spec.root, None

    def _is_mount_root(self, inside: str) -> bool:
        return any(inside.strip("/") == m.target for m in self.mounts)

    def resolve(self, inside: str, used: set[str]) -> str | None:
        """`inside` with every link followed inside the jail; None when something on the way is missing.
        Adds to `used` the mount targets the lookup went through."""
        pending = [part for part in inside.split("/") if part]
        done = "/"
        for _ in range(MAX_LINKS * 64):
            if not pending:
                return done
            part = pending.pop(0)
            if part in (".", ".."):
                done = posixpath.dirname(done) if part == ".." else done
                continue
            candidate = posixpath.join(done, part)
            host, target = self.backing(candidate)
            if target is not None:
                used.add(target)
            if host is None:
                return None
            # a bind's own source is followed on the host (mount resolves it); below it, links are the jail's
            st = self.system.stat(host) if self._is_mount_root(candidate) else self.system.lstat(host)
            if st is None:
                return None
            if stat.S_ISLNK(st.st_mode):
                link = self.system.host(host).readlink().as_posix()
                pending = [p for p in link.split("/") if p] + pending
                done = "/" if link.startswith("/") else done
                continue
            done = candidate
        return None  # a loop of links

    def open(self, resolved: str) -> BinaryIO:
        """A path `resolve` returned."""
        host = self.backing(resolved)[0]
        assert host is not None
        return self.system.host(host).open("rb")


def program_needs(view: JailView, program: str) -> Needs:
    needs = Needs(program)
    candidates = [program] if "/" in program else [f"{directory}/{program}" for directory in PATH]
    for candidate in candidates:
        used: set[str] = set()
        found = view.resolve(candidate, used)
        if found is not None:
            needs.path, needs.mounts = found, used
            break
    if needs.path is None:
        needs.missing.append(("the program", program))
        return needs
    _load(view, needs, needs.path, seen=set())
    return needs


def _load(view: JailView, needs: Needs, path: str, seen: set[str]) -> None:
    """The loader (of the program only) and every library, recursively, into `needs`."""
    try:
        with view.open(path) as file:
            elf = read_needs(file)
    except (NotElf, OSError):
        return  # a script or an unreadable file: nothing this reader can tell
    if path == needs.path and elf.interpreter:
        loader = view.resolve(elf.interpreter, needs.mounts)
        if loader is None:
            needs.missing.append(("its ELF loader", elf.interpreter))
    origin = posixpath.dirname(path)
    for soname in elf.needed:
        if soname in seen:
            continue
        seen.add(soname)
        directories = [d.replace("$ORIGIN", origin) for d in elf.runpath] + list(LIBRARY_DIRS)
        library = _find_library(view, soname, directories, needs.mounts)
        if library is None:
            needs.missing.append(("the library", soname))
        else:
            _load(view, needs, library, seen)


def _find_library(view: JailView, soname: str, directories: list[str], used: set[str]) -> str | None:
    if "/" in soname:
        return view.resolve(soname, used)
    for directory in directories:
        found = view.resolve(f"{directory}/{soname}", used)
        if found is not None:
            return found
    return None


def jail_program_needs(spec: Spec, system: SystemRoot) -> list[Needs]:
    """For the jail's shell and the probes' programs: where each is, what it lacks, which mounts it uses."""
    view = JailView(spec, system, spec.mounts)
    return [program_needs(view, program) for program in PROGRAMS]


def host_fix(system: SystemRoot, needs: list[Needs]) -> str:
    """What to add to the mounts so that the missing loaders and libraries are there: the host's own top
    directory holding each (the jail sees the host's paths where it binds the host's directories)."""
    wanted: list[str] = []
    for program in needs:
        for _, name in program.missing:
            top = _host_top(system, name)
            if top and top not in wanted:
                wanted.append(top)
    if not wanted:
        return "make the jail's /bin/sh and its libraries available in the jail (its mounts or copies)"
    entries = ", ".join(f"{{source: {top}, target: {top.lstrip('/')}, readonly: true}}" for top in wanted)
    return f"add to mounts: {entries}"


def _host_top(system: SystemRoot, path: str) -> str | None:
    """The first directory of the host path where `path` (a loader path, a soname or a program) is."""
    candidates = [path] if "/" in path else [f"{d}/{path}" for d in (*LIBRARY_DIRS, *PATH)]
    for candidate in candidates:
        if system.lstat(candidate) is not None:
            return "/" + candidate.strip("/").split("/")[0]
    return None


def shell_loses(spec: Spec, system: SystemRoot, index: int) -> str | None:
    """What the jail's own /bin/sh would lack without `spec.mounts[index]` (None: nothing), for the mounts
    screen to say before that entry is deleted."""
    kept = spec.mounts[:index] + spec.mounts[index + 1 :]
    before = program_needs(JailView(spec, system, spec.mounts), PROGRAMS[0])
    after = program_needs(JailView(spec, system, kept), PROGRAMS[0])
    lost = [item for item in after.missing if item not in before.missing]
    if not lost:
        return None
    lacks = ", ".join(f"{what} {name}" for what, name in lost)
    return f"the jail's {PROGRAMS[0]} needs {spec.mounts[index].source}: without it, it lacks {lacks}"
