"""What the wizard's steps edit: the spec being built, as plain data, plus where it came from.

Screens read and change a `WizardState`; they never validate or plan by themselves. The data stays
plain (dicts and lists, as in the YAML) so a half-edited step can hold values that do not validate
yet; `spec()` turns it into a `Spec` with the model's own messages. Heavy modules (pydantic models,
the planner) are imported on first use so the first screen appears fast.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_jail.paths.system import SystemRoot
from tui_jail.txn import entry
from tui_jail.txn.history import DEFAULT_KEEP
from tui_jail.txn.journal import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from tui_jail.backends.sshd import Connection
    from tui_jail.core.checks import Check
    from tui_jail.core.plan import Plan
    from tui_jail.core.spec import Spec
    from tui_jail.txn.journal import TxnState

PLACEHOLDER = re.compile(r"<[a-z][a-z0-9-]*>")
EXTEND_BY = 60.0
VOLATILE = re.compile(r" \(pid \d+\)|: it rolls back in \d+ s unless confirmed")
LIST_SPLIT = re.compile(r"[,\s]+")


def split_list(text: str) -> list[str]:
    """`a, b c` → [a, b, c]: how the access step's fields are typed."""
    return [item for item in LIST_SPLIT.split(text.strip()) if item]


# the spec's problems come as one line, "field: message; field: message" (the CLI's one-line error)
_NEXT_PROBLEM = re.compile(r"; (?=[A-Za-z_][\w.\[\]]*: )")


def problems(message: str) -> list[str]:
    """A SpecError's problems, one each: `name: …; sftp.users[0]: …` → the two."""
    return _NEXT_PROBLEM.split(message)


def field_of(problem: str) -> str:
    """The top-level spec field a model error line is about: `mounts[0].source: …` → `mounts`."""
    return re.split(r"[.\[:]", problem, maxsplit=1)[0]


def plain(value: Any) -> Any:
    """ruamel's commented maps and sequences → plain dicts and lists (a deep copy)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return copy.copy(value)


@dataclass
class AppliedJail:
    """One row of the home screen: an applied jail and its newest transaction."""

    name: str
    kind: str
    root: str
    state: str  # the newest transaction's status ("applied" when none is journalled)
    changed: float | None  # when that transaction was made


APPLIED_HEADER = "# tui-jail: the applied spec of jail "


@dataclass
class WizardState:
    """The wizard's spec being edited, where it came from, and the system it is for."""

    system: SystemRoot
    sandbox: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=lambda: 0.0)
    save_dir: Path = field(default_factory=Path.cwd)
    root_label: str | None = None  # shown instead of the root's path (tests: a temporary dir's name varies)
    program: str = entry.NAME  # how the admin runs tui-jail from a new login (entry.program)
    confirm_timeout: float = DEFAULT_TIMEOUT
    keep_history: int = DEFAULT_KEEP  # finished transactions the journal keeps (the CLI's --keep-history)
    preset: str | None = None
    origin: str = ""  # "preset seedbox-sftp" or the file it was opened from
    opened: Path | None = None  # that file: saving offers it again
    document: Any = None  # the ruamel document, so saving keeps its comments
    data: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = None
    removing: bool = False  # the plan takes the jail down (home screen's remove)

    # --- where the spec comes from ------------------------------------------------------------

    def load_preset(self, name: str) -> None:
        from tui_jail.presets import preset_document

        if name == self.preset:
            return  # coming back to the same preset keeps the edits
        self._load(preset_document(name), f"preset {name}")
        self.preset = name

    def load_file(self, path: Path) -> None:
        """Raises YamlError or SpecError with a one-line reason."""
        from tui_jail.core.spec import parse_spec
        from tui_jail.core.yamlio import load_yaml_file

        document = load_yaml_file(path)
        parse_spec(document, allow_placeholders=True)
        self._load(document, path.name)
        self.preset, self.opened = None, path

    @property
    def applied_name(self) -> str | None:
        """The applied jail being edited (its name and root stay), or None for a new jail."""
        return self.name if self.origin == f"the applied jail {self.name}" else None

    def load_applied(self, name: str) -> None:
        """The applied spec of jail `name`, as an editable document (without the "do not edit" header
        of the copy apply keeps). Raises YamlError, or OSError when it is gone."""
        from tui_jail.core.plan import jail_state_path
        from tui_jail.core.yamlio import load_yaml_text

        text = self.system.read_text(jail_state_path(name))
        if text is None:
            raise OSError(f"jail {name} has no applied spec any more")
        if text.startswith(APPLIED_HEADER):
            text = text.partition("\n")[2]
        self._load(load_yaml_text(text), f"the applied jail {name}")
        self.preset = None

    def start_over(self) -> None:
        """A new jail from a preset: nothing of the last one is kept."""
        self.preset, self.origin, self.document, self.data, self.plan = None, "", None, {}, None
        self.removing, self.opened = False, None

    def _load(self, document: Any, origin: str) -> None:
        self.document, self.origin, self.data, self.plan = document, origin, plain(document), None
        self.opened = None
        self.removing = False

    def applied_jails(self) -> list[AppliedJail]:
        """Every jail with an applied spec under the root, with its newest transaction's state."""
        from tui_jail.core import plain_yaml
        from tui_jail.core.launchfile import JAILS_DIR

        newest: dict[str, TxnState] = {}
        for txn in reversed(self.history()):
            newest[txn.jail] = txn
        jails = []
        for filename in sorted(self.system.listdir(JAILS_DIR) or []):
            if not filename.endswith(".yaml"):
                continue
            name = filename.removesuffix(".yaml")
            text = self.system.read_text(f"{JAILS_DIR}/{filename}") or ""
            # the kind and root alone: the list paints before anything is loaded whole, and ruamel is loaded
            # only for a record apply did not write
            data = plain_yaml.top_level_scalars(text)
            if data is None:
                from tui_jail.core.yamlio import YamlError, top_level_scalars

                try:
                    data = top_level_scalars(text)
                except YamlError:
                    data = {}
            last = newest.get(name)
            kind, root = str(data.get("kind", "?")), str(data.get("root", "?"))
            jails.append(
                AppliedJail(name, kind, root, last.status if last else "applied", last.created if last else None)
            )
        return jails

    def has_applied_jails(self) -> bool:
        """Cheap: whether the home screen has anything to list."""
        from tui_jail.core.launchfile import JAILS_DIR

        return any(filename.endswith(".yaml") for filename in self.system.listdir(JAILS_DIR) or [])

    def history(self) -> list[TxnState]:
        """Every journalled transaction, newest first (a damaged one is left out)."""
        from tui_jail.txn.journal import transactions

        states = []
        for journal in transactions(self.system.root):
            try:
                states.append(journal.state())
            except (OSError, ValueError):
                continue
        return sorted(states, key=lambda txn: txn.created, reverse=True)

    def drift(self, name: str) -> str:
        """A quick verify of an applied jail: does the live system still match its spec? (blocks)"""
        from tui_jail.core.plan import PlanError, make_plan
        from tui_jail.core.spec import SpecError, parse_spec
        from tui_jail.core.yamlio import YamlError

        try:
            probe = WizardState(self.system)
            probe.load_applied(name)
            plan = make_plan(parse_spec(probe.data), self.system)
        except (OSError, YamlError, SpecError, PlanError) as exc:
            return f"unknown: {exc}"
        return f"drifted: {plan.summary()}" if plan.has_changes else "in sync"

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def where(self) -> str:
        """The system root as shown on every screen: never a temporary path."""
        return "SANDBOX" if self.sandbox else f"root {self.system.root}"

    @property
    def console_font(self) -> bool:
        """On the Linux console (TERM=linux) only ASCII and code page 437 can be drawn."""
        return self.environ.get("TERM", "") == "linux"

    def shown(self, text: str) -> str:
        """Text for the screen, with the root's path replaced by `root_label` when one is set."""
        return text.replace(str(self.system.root), self.root_label) if self.root_label else text

    def command(self, *words: str) -> str:
        """The exact CLI command for this root, as the admin would type it in another session."""
        return self.shown(entry.command(self.system.root, *words, name=self.program))

    def admin(self) -> Connection | None:
        from tui_jail.txn.admin import admin_connection

        return admin_connection(self.environ)

    # --- validation and planning ---------------------------------------------------------------

    def spec(self, *, final: bool = False) -> Spec:
        """The whole model; raises SpecError. Placeholders are allowed until the review step."""
        from tui_jail.core.spec import parse_spec

        return parse_spec(self.data, allow_placeholders=not final)

    def problem(self, *fields: str, final: bool = False) -> str | None:
        """The spec's first problem with one of these top-level fields, or None. A step asks only about
        its own fields: a value typed wrongly on a later step must not block Next on an earlier one."""
        from tui_jail.core.spec import SpecError

        try:
            self.spec(final=final)
        except SpecError as exc:
            mine = [line for line in problems(str(exc)) if field_of(line) in fields]
            return mine[0] if mine else None
        return None

    def make_plan(self) -> Plan:
        """Raises SpecError or PlanError; runs in a worker (it reads the system root)."""
        from tui_jail.core.plan import make_plan, plan_removal

        spec = self.spec(final=True)
        self.plan = plan_removal(spec.name, self.system, spec) if self.removing else make_plan(spec, self.system)
        return self.plan

    def fill_placeholder(self, old: str, new: str) -> None:
        """A placeholder given a value in one field (`<agent-user>` → `agent`) is filled everywhere."""
        if PLACEHOLDER.fullmatch(old) and new and not PLACEHOLDER.search(new):
            self.data = _replace(self.data, old, new)

    # --- mounts --------------------------------------------------------------------------------

    @property
    def mounts(self) -> list[dict[str, Any]]:
        mounts: list[dict[str, Any]] = self.data.setdefault("mounts", [])
        return mounts

    def source_exists(self, path: str) -> bool:
        return self.system.stat(path) is not None

    def mount_problem(
        self, source: str, target: str, index: int | None, *, optional: bool = False, create: Any = None
    ) -> str | None:
        """What is wrong with a mount as typed (None: fine). `index` is the one being edited; a source
        the plan creates (`create`) need not exist yet."""
        from tui_jail.core.spec import SpecError, parse_mount

        try:
            parse_mount({"source": source, "target": target, "create": create})
        except SpecError as exc:
            return str(exc)
        if not optional and not create and not PLACEHOLDER.search(source) and not self.source_exists(source):
            return f"source: {source} does not exist under {self.where} (c: create it as a step of the plan)"
        for other, mount in enumerate(self.mounts):
            if other != index and mount.get("target") == target:
                return f"target: {target!r} is already used by {mount.get('source')}"
        return None

    def row_problem(self, index: int) -> str | None:
        mount = self.mounts[index]
        source, target = str(mount.get("source", "")), str(mount.get("target", ""))
        return self.mount_problem(
            source, target, index, optional=bool(mount.get("optional")), create=mount.get("create")
        )

    def shell_loses(self, index: int) -> str | None:
        """For an exec jail: what its /bin/sh would lack without mount `index` (its ELF loader, a library)."""
        from tui_jail.core.spec import SpecError
        from tui_jail.verify.loader import shell_loses

        if self.kind != "exec":
            return None
        try:
            return shell_loses(self.spec(), self.system, index)
        except SpecError:
            return None

    def put_mount(self, index: int | None, mount: dict[str, Any]) -> None:
        if index is None:
            self.mounts.append(mount)
        else:
            self.mounts[index] = mount

    def toggle_create(self, index: int) -> bool:
        """Have the plan create mount `index`'s missing source, or not any more; whether it now does."""
        mount = self.mounts[index]
        if mount.pop("create", None) is not None:
            return False
        mount["create"] = self.suggested_create(readonly=bool(mount.get("readonly")))
        return True

    def suggested_create(self, *, readonly: bool) -> dict[str, str]:
        """How a missing source is made: owned by whom writes to it through the jail (the sftp user, the
        exec jail's user) when the bind is read-write, else by root; 0755."""
        owner = "root"
        if not readonly and self.kind == "sftp":
            owner = str((self.sftp.get("users") or ["root"])[0])
        elif not readonly and self.kind == "exec":
            owner = str(self.exec.get("user", "nobody"))
        return {"owner": owner, "mode": "0755"}

    def toggle_mount(self, index: int, key: str) -> None:
        default = key == "persist"  # persist defaults to true, readonly to false
        mount = self.mounts[index]
        mount[key] = not mount.get(key, default)

    # --- access (sftp) -------------------------------------------------------------------------

    @property
    def sftp(self) -> dict[str, Any]:
        sftp: dict[str, Any] = self.data.setdefault("sftp", {})
        return sftp

    def admin_caught(self, users: list[str], addresses: list[str]) -> tuple[str, bool]:
        """What the jail's lists would do to the admin's own login: a one-line warning ("" when
        neither list names it) and whether the login would be jailed (sshd's Match needs both)."""
        connection = self.admin()
        if connection is None:
            return "", False
        address = bool(connection.addr) and any(_in_network(connection.addr, text) for text in addresses)
        user = bool(connection.user) and connection.user in users
        if address and user:
            return (
                f"your own login ({connection.user} from {connection.addr}) matches both lists: it would be "
                "jailed. Take your address or your user out.",
                True,
            )
        if address:
            return f"your own address {connection.addr} is in the list (your user {connection.user} is not).", False
        if user:
            return f"your own user {connection.user} is in the list (your address {connection.addr} is not).", False
        return "", False

    # --- capabilities (exec) -------------------------------------------------------------------

    @property
    def exec(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.data.setdefault("exec", {})
        return settings

    def user_exists(self, name: str) -> bool:
        return name in self.system.accounts

    def capability_sets(self) -> dict[str, list[str]]:
        caps: dict[str, list[str]] = self.exec.setdefault("capabilities", {})
        caps.setdefault("drop", [])
        caps.setdefault("never", [])
        return caps

    def cycle_capability(self, name: str) -> str:
        """held → dropped → never held → held; returns the new state."""
        sets = self.capability_sets()
        if name in sets["drop"]:
            sets["drop"].remove(name)
            sets["never"].append(name)
            return "never"
        if name in sets["never"]:
            sets["never"].remove(name)
            return "held"
        sets["drop"].append(name)
        return "drop"

    def capability_state(self, name: str) -> str:
        sets = self.capability_sets()
        return "drop" if name in sets["drop"] else "never" if name in sets["never"] else "held"

    # --- the transaction (each call blocks: screens make them from workers) -----------------------

    def apply(self) -> TxnState:
        """Apply the reviewed plan, pending confirmation. Raises Refused (nothing changed, or rolled back).
        Then the journal's history is pruned as the CLI's apply prunes it (its new transaction never is)."""
        from tui_jail.txn.history import tidy
        from tui_jail.txn.transaction import apply

        plan = self.plan or self.make_plan()
        try:
            return apply(plan, self.system, timeout=self.confirm_timeout, environ=self.environ)
        finally:
            tidy(self.system.root, self.keep_history)  # not pruned now (the lock is busy): the next apply does

    def prove_exec(self) -> str:
        """Run `tui-jail exec NAME -- true` (the proof an exec jail's confirmation asks for); one line."""
        from tui_jail.verify.exec import run_exec_proof

        return self.shown(run_exec_proof(self.name, self.system))

    def confirm(self, txn: TxnState) -> TxnState:
        from tui_jail.txn.transaction import confirm

        return confirm(self.system.root, txn.id, self.environ, same_session=True)

    def extend(self, txn: TxnState) -> TxnState:
        from tui_jail.txn.transaction import extend

        return extend(self.system.root, txn.id, EXTEND_BY)

    def rollback(self, txn: TxnState, reason: str) -> TxnState:
        from tui_jail.txn.transaction import rollback_txn

        return rollback_txn(self.system.root, txn.id, reason)

    def ensure_watched(self) -> list[str]:
        """Re-arm a watchdog that is gone, or roll back what it no longer watches (see
        `watched.ensure_watched`); what was found and done, one line each, as shown: without pids and
        the seconds left, which the panel's countdown shows as they pass."""
        from tui_jail.txn.watched import ensure_watched

        return [self.shown(VOLATILE.sub("", line)) for line in ensure_watched(self.system.root)]

    def watchdog(self, txn: TxnState) -> str:
        """armed, re-armed or gone ('' once nothing is left to watch): the watchdog's real state."""
        return txn.watchdog_state()

    def transaction(self, txn_id: str) -> TxnState:
        from tui_jail.txn.journal import Journal

        return Journal(self.system.root, txn_id).state()

    def plan_text(self, txn: TxnState) -> str:
        """The plan as the admin saw it when `txn` was applied."""
        from tui_jail.txn.journal import Journal

        return Journal(self.system.root, txn.id).plan_text()

    def live_checks(self) -> list[Check]:
        """The checks of the jail on the live system (verify's list). Raises SpecError."""
        from tui_jail.verify import checks_for

        return checks_for(self.spec(final=True), self.system, admin=self.admin())

    # --- saving --------------------------------------------------------------------------------

    def save_as(self) -> str:
        """Where saving is offered: the file the spec was opened from, else `<name>.yaml` here."""
        return str(self.opened) if self.opened else f"{self.name}.yaml"

    def save(self, path: Path) -> Path:
        """Write the spec as YAML (round-trip). Raises SpecError, OSError."""
        from tui_jail.core.spec_document import spec_yaml
        from tui_jail.paths.fsops import save_file

        target = path if path.is_absolute() else self.save_dir / path
        text = spec_yaml(self.document, self.spec())
        # through the path layer: refused through a link, or where other users can write
        save_file(target, text.encode())
        return target


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value.replace(old, new) if isinstance(value, str) else value


def _in_network(client: str, text: str) -> bool:
    try:
        address = ipaddress.ip_address(client)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address in ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
