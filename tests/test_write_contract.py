"""The write-path contract: only the path layer (`tui_jail/paths/`) writes to the system.

An AST scan of the package fails on any call that changes the file system or the mount table
outside the layer — `os.chmod`/`chown`/`mkdir`/`unlink`/`rename`/..., `open()` for writing,
`Path.write_*` and friends, anything from `shutil`, `mount`/`umount` run as a command — except the
few entries of ALLOWED, each with its reason. A planted violation shows the scan is not blind.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tui_jail"
LAYER = "paths"

OS_WRITES = {
    "chmod", "chown", "lchown", "fchmod", "fchown", "mkdir", "makedirs", "mknod", "mkfifo", "unlink", "remove",
    "rmdir", "removedirs", "rename", "renames", "replace", "symlink", "link", "truncate",
}  # fmt: skip
PATH_WRITES = {"write_text", "write_bytes", "symlink_to", "hardlink_to", "touch", "mkdir", "rmdir", "chmod", "lchmod"}
MOUNT_COMMANDS = {"mount", "umount"}
RUNNERS = {"subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call", "subprocess.check_output"}
RUNNERS |= {"sh.Command", "os.execv", "os.execvp", "os.execve", "os.execvpe", "os.posix_spawn", "os.posix_spawnp"}
SHUTIL_READS = {"which", "get_terminal_size", "disk_usage"}

# file (relative to tui_jail/) -> why it may write on its own
ALLOWED = {
    "jailexec/launcher.py": "the exec launcher mounts and creates inside its own new mount namespace, at run time",
    "sandbox.py": "the sandbox builds its throwaway root in a fresh temporary directory it alone owns",
    "backends/sshd.py": "sshd -t and -T test a copy of DIR's config written in their own temporary directory",
}


def _call_name(node: ast.Call) -> str:
    """`os.chmod`, `shutil.rmtree`, `open`, `.write_text` (any object): the callee as written."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name):
            return f"{func.value.id}.{func.attr}"
        return f".{func.attr}"
    return ""


def _open_mode(node: ast.Call) -> str | None:
    mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
    if mode is None:
        return "r"
    return mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else None


def _runs_mount(node: ast.Call) -> bool:
    if _call_name(node) not in RUNNERS:
        return False
    first = node.args[0] if node.args else None
    if isinstance(first, (ast.List, ast.Tuple)) and first.elts:
        first = first.elts[0]
    return isinstance(first, ast.Constant) and first.value in MOUNT_COMMANDS


def violations_in(source: str, where: str) -> list[str]:
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil"):
            writes = SHUTIL_READS if node.module == "shutil" else set(OS_WRITES)
            names = [a.name for a in node.names if (a.name in writes) != (node.module == "shutil")]
            found += [f"{where}:{node.lineno}: from {node.module} import {n}" for n in names]
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        module, _, attr = name.partition(".")
        bad = (
            (module == "os" and attr in OS_WRITES)
            or (module == "shutil" and attr not in SHUTIL_READS)
            or (name.rpartition(".")[2] in PATH_WRITES and "." in name)
            or (name == "open" and (_open_mode(node) is None or set(_open_mode(node) or "") & set("wax+")))
            or _runs_mount(node)
        )
        if bad:
            found.append(f"{where}:{node.lineno}: {name or 'a call'}(...) writes outside the path layer")
    return found


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.split("/")[0] == LAYER or relative in ALLOWED:
            continue
        found += violations_in(path.read_text(), relative)
    return found


def test_only_the_path_layer_writes() -> None:
    assert violations(PACKAGE) == []


def test_every_allowed_entry_exists_and_says_why() -> None:
    for relative, reason in ALLOWED.items():
        assert (PACKAGE / relative).is_file(), relative
        assert len(reason.split()) >= 6, relative


def test_a_planted_violation_is_caught(tmp_path: Path) -> None:
    """Each kind of write, planted in a module of a package, is found; the same module without it is clean."""
    module = tmp_path / "tui_jail" / "steps.py"
    module.parent.mkdir()
    clean = (PACKAGE / "txn" / "steps.py").read_text()
    module.write_text(clean)
    assert violations(module.parent) == []
    planted = [
        "os.chmod(path, 0o777)",
        "open(path, 'w').write('x')",
        "Path(path).write_text('x')",
        "shutil.rmtree(path)",
        "subprocess.run(['mount', '--bind', a, b])",
        "os.replace(a, b)",
    ]
    for line in planted:
        module.write_text(clean + f"\n\ndef _planted(path, a, b):\n    {line}\n")
        assert violations(module.parent), line
