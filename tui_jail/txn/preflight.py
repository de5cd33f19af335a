"""Preflight: everything that must hold before a transaction changes anything; refuse otherwise.

- the admin's own connection (its SSH_CONNECTION and user, see `admin`) must not get a ChrootDirectory or
  ForceCommand from the candidate sshd config (`sshd -T -C`, all five attributes); nor, when tui-jail
  runs in no SSH login (tmux or screen started earlier, a console), any active SSH login with a terminal
  (`session.logins_to_protect`; those without one are listed in a note);
- `sshd -t` accepts the candidate config;
- the jail root chain passes sshd's `safely_chroot` rule (checked only at login time by sshd);
- `findmnt --verify` finds nothing new (errors or warnings) in the candidate fstab, and every bind
  source exists (findmnt checks neither bind sources nor option typos). findmnt sees only the managed
  block, in slices of a few dozen entries (it is worse than quadratic in fstab lines: a 500-mount block
  took 2.6 s in one run); the order of the whole file, its one check across entries, is checked here.
The sshd and findmnt runs are independent, so they run concurrently.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import stat
import subprocess
import tempfile
from collections.abc import Callable, Mapping

from tui_jail.backends.scratch import scratch_dir
from tui_jail.backends.sshd import Connection, candidate_config, check_config, effective_config
from tui_jail.core import fstab, managed_block
from tui_jail.core.errors import Refused
from tui_jail.core.plan import SOURCE, Plan
from tui_jail.paths.system import SystemRoot
from tui_jail.txn.admin import admin_connection, login_connection
from tui_jail.txn.session import Login, logins_to_protect
from tui_jail.txn.together import side_by_side

SSH_DIR = "/etc/ssh/"
_SUMMARY = re.compile(r"^\d+ parse errors?, ")
# about the running systemd, not the candidate: tui-jail reloads systemd after every fstab change
_SYSTEMD_STALE = "systemd still uses the old version"
_OPTION = re.compile(r"^(bind|ro|rw|nofail|x-systemd\.requires-mounts-for=\S+)$")
# entries per findmnt run: its cost per entry grows with the entries in its file (0.14 ms at 25, 0.33 ms
# at 100, 5 ms at 500, util-linux 2.38.1 here), while a run itself costs about 2 ms
FINDMNT_SLICE = 32


def run_preflight(
    plan: Plan, system: SystemRoot, environ: Mapping[str, str], logins: list[Login] | None = None
) -> list[str]:
    """Raise Refused with the first reason; return notes of what was checked. `logins`: the other SSH
    logins to keep open (default: `session.logins_to_protect`)."""
    checks: list[Callable[[], str]] = [lambda: _sources(plan, system), lambda: _chroot_chain(plan, system)]
    overrides = {f.path: f.after for f in plan.changed_files if f.path.startswith(SSH_DIR)}
    if overrides:
        checks.append(lambda: _sshd_syntax(system, overrides))
        connection = admin_connection(environ)
        if connection is not None:
            checks.append(lambda: _own_connection(system, overrides, connection))
        logins = logins_to_protect(system.root) if logins is None else logins
        checks += [_login_check(system, overrides, login) for login in logins if login.has_terminal]
        checks.append(lambda: _unchecked_logins(logins))
    fstab_change = next((f for f in plan.changed_files if f.path == fstab.FSTAB), None)
    if fstab_change is not None and fstab_change.after is not None:
        after = fstab_change.after
        checks.append(lambda: _fstab(plan, system, fstab_change.before or "", after))
    return [note for note in side_by_side(checks) if note]  # each check on a thread of its own


def _own_connection(system: SystemRoot, overrides: dict[str, str | None], connection: Connection) -> str:
    who = f"your own connection ({connection.user} from {connection.addr})"
    _not_jailed(system, overrides, connection, who, "that would lock you out")
    return f"your connection ({connection.user} from {connection.addr}) is not jailed by the candidate config"


def _login_check(system: SystemRoot, overrides: dict[str, str | None], login: Login) -> Callable[[], str]:
    """An active SSH login with a terminal (an admin's shell) is checked as the admin's own would be."""

    def check() -> str:
        connection = login_connection(login)
        if connection is None:
            return f"the SSH login {login.describe()} shows no address: not checked"
        who = f"the active SSH login {login.describe()}"
        _not_jailed(
            system,
            overrides,
            connection,
            who,
            "its next login would be locked out (tui-jail runs in no SSH login here, as from a tmux or screen "
            "started earlier, so every SSH login with a terminal is checked as the admin's own)",
        )
        return f"the SSH login {login.describe()} is not jailed by the candidate config"

    return check


def _unchecked_logins(logins: list[Login]) -> str:
    """Logins without a terminal are sftp, scp and commands (the jail's own users among them): listed only."""
    listed = ", ".join(login.describe() for login in logins if not login.has_terminal)
    return f"SSH sessions without a terminal, not checked: {listed}" if listed else ""


def _not_jailed(
    system: SystemRoot, overrides: dict[str, str | None], connection: Connection, who: str, consequence: str
) -> None:
    with candidate_config(system, overrides) as config:
        settings = effective_config(config, connection)
    for keyword in ("chrootdirectory", "forcecommand"):
        value = settings.get(keyword, "none")
        if value != "none":
            raise Refused(f"{who} would get {keyword} {value} with this config: {consequence}", field="sftp")


def _sshd_syntax(system: SystemRoot, overrides: dict[str, str | None]) -> str:
    with candidate_config(system, overrides) as config:
        ok, message = check_config(config)
    if not ok:
        raise Refused(f"sshd -t rejects the candidate config: {message}")
    return "sshd -t accepts the candidate config"


def _chroot_chain(plan: Plan, system: SystemRoot) -> str:
    """safely_chroot: every component from / a directory (no symlinks), uid 0, mode & 022 == 0 —
    as it will be after the plan's own creations and fixes."""
    if plan.kind != "sftp" or plan.removal:
        return ""
    planned = {p.path for p in plan.path_changes}
    path = ""
    for part in ["", *plan.root.strip("/").split("/")]:
        path = f"{path}/{part}" if part else "/"
        path = path.replace("//", "/")
        if path in planned:
            continue
        st = system.lstat(path)
        if st is None:
            raise Refused(f"jail root chain: {path} is missing and not in the plan", field="root")
        if stat.S_ISLNK(st.st_mode) and path != "/":
            raise Refused(f"jail root chain: {path} is a symlink", field="root")
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
            raise Refused(
                f"jail root chain: {path} must be a directory owned by root and not group/world-writable "
                f"(sshd would drop the login: bad ownership or modes for chroot directory component)",
                field="root",
            )
    return f"jail root chain {plan.root} passes sshd's ownership rule"


def _sources(plan: Plan, system: SystemRoot) -> str:
    made = {step.path for step in plan.path_changes if step.reason == SOURCE and step.action == "create"}
    for mount in plan.mount_changes:
        if mount.source not in made and system.stat(mount.source) is None:
            raise Refused(f"bind source {mount.source} does not exist", field="mounts")
    for change in plan.changed_files:
        st = system.lstat(change.path)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise Refused(f"{change.path} is not a regular file (a symlink?); refusing to replace it")
    return ""


def _fstab(plan: Plan, system: SystemRoot, before: str, after: str) -> str:
    """Only the managed block changes, so only its entries go through `findmnt --verify`, in files of
    FINDMNT_SLICE lines (findmnt is worse than quadratic in fstab lines); the one check findmnt makes
    across entries, their order, is redone here over the whole file."""
    body = managed_block.block_body(after, plan.name) or ""
    for _, target, _, options in fstab.parse_entries(body):
        typos = [o for o in options if not _OPTION.match(o)]
        if typos:
            raise Refused(f"fstab entry for {target}: unknown options {','.join(typos)}", field="mounts")
    will_exist = {p.path for p in plan.paths} | {m.target for m in plan.mounts}
    old_block, new_block = _sliced_findings(managed_block.block_body(before, plan.name) or "", body)
    resolve = _realpath_memo()  # the two files share all but the block's targets
    old = old_block | _order_findings(before, resolve)
    new = new_block | _order_findings(after, resolve)
    for target, message in sorted(new - old):
        if "target: No such file or directory" in message and (
            system.lstat(target) is not None or target in will_exist
        ):
            continue  # a mount point the plan creates, or one that exists under --root
        raise Refused(f"findmnt --verify on the candidate fstab: {target}: {message}", field="mounts")
    return "findmnt --verify finds nothing new in the candidate fstab"


def _order_findings(text: str, resolve: Callable[[str], str]) -> set[tuple[str, str]]:
    """What `findmnt --verify` says of the order of a whole fstab, in one pass instead of its pairwise
    scan: an entry whose target comes again later is "specified more than once", one whose parent comes
    later is in the "wrong order". Targets are resolved as findmnt resolves them (realpath on this host,
    left as written when that fails)."""
    targets = [fields[1] for fields in (line.split() for line in text.splitlines()) if _is_entry(fields)]
    resolved = [resolve(fstab.unescape(target)) for target in targets]
    last_at = {path: i for i, path in enumerate(resolved)}
    findings: set[tuple[str, str]] = set()
    for i, (target, path) in enumerate(zip(targets, resolved, strict=True)):
        if last_at[path] > i:
            findings.add((fstab.unescape(target), "[W] target specified more than once"))
        parent = path
        while (cut := parent.rfind("/")) > 0:
            parent = parent[:cut]
            if last_at.get(parent, -1) > i:
                findings.add((fstab.unescape(target), f"[E] wrong order: {path} specified before {parent}"))
    return findings


def _is_entry(fields: list[str]) -> bool:
    return len(fields) >= 2 and not fields[0].startswith("#")


def _realpath_memo() -> Callable[[str], str]:
    """`os.path.realpath(target, strict=True)`, or the target as written when that fails, with every
    directory resolved once: ten thousand targets under /srv cost ten thousand lstat calls, not the
    forty thousand realpath makes of the same targets twice."""
    known: dict[str, str | None] = {"/": "/"}  # path -> its real path, None when it cannot be resolved

    def real(path: str) -> str | None:
        if path in known:
            return known[path]
        parent, name = path.rsplit("/", 1)
        if name in ("", ".", ".."):  # not the plain form: realpath's own walk
            try:
                known[path] = os.path.realpath(path, strict=True)
            except OSError:
                known[path] = None
            return known[path]
        base = real(parent or "/")
        answer = None
        if base is not None:
            candidate = posixpath.join(base, name)
            try:
                st = os.lstat(candidate)
                answer = os.path.realpath(candidate, strict=True) if stat.S_ISLNK(st.st_mode) else candidate
            except OSError:
                pass
        known[path] = answer
        return answer

    def resolve(target: str) -> str:
        if not target.startswith("/"):  # relative to the working directory, as findmnt would take it
            try:
                return os.path.realpath(target, strict=True)
            except OSError:
                return target
        return real(target) or target

    return resolve


def _sliced_findings(*texts: str) -> list[set[tuple[str, str]]]:
    """`_findings` of each text, run on slices of FINDMNT_SLICE lines (all at once) and joined per text."""
    slices = [_slices(text) for text in texts]
    found = iter(_findings(*(piece for pieces in slices for piece in pieces)))
    return [set().union(*(next(found) for _ in pieces)) for pieces in slices]


def _slices(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    return ["".join(lines[i : i + FINDMNT_SLICE]) for i in range(0, len(lines), FINDMNT_SLICE)] or [""]


def _findings(*texts: str) -> list[set[tuple[str, str]]]:
    """For each fstab text, (target, message) for every error and warning of `findmnt --verify`, and
    its parse errors. The findmnt runs go side by side, as plain subprocesses (sh would cost more than
    findmnt itself)."""
    with contextlib.ExitStack() as stack:
        names = []
        for text in texts:
            tab = stack.enter_context(
                tempfile.NamedTemporaryFile("w", prefix="tui-jail-fstab-", dir=scratch_dir(), encoding="utf-8")
            )
            tab.write(text)
            tab.flush()
            names.append(tab.name)
        runs = [
            subprocess.Popen(
                ["findmnt", "--verify", "--tab-file", name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
            for name in names
        ]
        return [_parse_findings(*run.communicate(), name) for run, name in zip(runs, names, strict=True)]


def _parse_findings(out: str, err: str, tab_name: str) -> set[tuple[str, str]]:
    """Targets and their [E]/[W] lines come on stdout, parse errors and the summary on stderr (read
    apart: merged through a pipe, their order would depend on findmnt's buffering)."""
    findings: set[tuple[str, str]] = set()
    target = ""
    for line in out.splitlines():
        stripped = line.strip()
        if stripped.startswith(("[E]", "[W]")) and _SYSTEMD_STALE not in stripped:
            findings.add((target, stripped))
        elif stripped and not line.startswith(" "):
            target = stripped
    for line in err.splitlines():
        if "parse error" in line and not _SUMMARY.match(line):  # the counts change with any new warning
            findings.add(("fstab", line.strip().replace(tab_name, "candidate")))
    return findings
