"""Acting on a transaction already made: `confirm` keeps it, `extend` moves its deadline, `rollback_txn`
undoes it now; each under the journal lock.

Apart from `transaction` (which makes one) so that `tui-jail confirm` and `tui-jail rollback` load
the journal, the rollback and the session checks, not the planner, the preflight, the renderer and
the pydantic spec they never use: they are what an admin types with a rollback's clock running.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from tui_jail.core.errors import Refused
from tui_jail.txn import journal, session
from tui_jail.txn.journal import Busy, Damaged, Journal, TxnState
from tui_jail.txn.journal_layout import LONGEST_WAIT
from tui_jail.txn.rollback import rollback, stop_timer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see tui_jail.cli)
if TYPE_CHECKING:
    from tui_jail.paths.files import Root


def pending_refusal(root: Root) -> str:
    from tui_jail.txn import entry  # for refusals only, as in _require_new_login

    found = [each for each in journal.scan(root) if each.unfinished]
    if not found:
        return "another tui-jail transaction is running right now"
    state = found[-1].state
    if state is None:
        return f"damaged journal entry {found[-1].problem}: roll it back first (tui-jail recover)"
    return (
        f"transaction {state.id} ({state.action} {state.jail}) is {state.status}: "
        f"confirm it ({entry.command(root, 'confirm', state.id)}) or roll it back "
        f"({entry.command(root, 'rollback', state.id)}) first"
    )


def _pending(root: Root, txn_id: str | None) -> Journal:
    found = journal.find(root, txn_id)
    if found is None:
        raise Refused(f"no transaction {txn_id}" if txn_id else "no pending transaction")
    return found


def _readable_state(txn: Journal) -> TxnState:
    """The state, or a one-line refusal naming what is wrong with it."""
    try:
        return txn.state()
    except (OSError, Damaged) as exc:
        problem = str(exc) if isinstance(exc, Damaged) else f"{txn.dir_path}/state.json: {exc.strerror}"
        raise Refused(f"damaged journal entry {problem}: roll it back (tui-jail rollback {txn.id})") from None


def confirm(root: Root, txn_id: str | None, environ: Mapping[str, str], *, same_session: bool = False) -> TxnState:
    """Keep the change. When it changed sshd's config over SSH, only from a new login — one whose
    connection sshd accepted after it served the change: that login proves access still works —
    unless `same_session`. Any session may confirm any other transaction."""
    txn = _pending(root, txn_id)
    try:
        with journal.locked(root, wait=30):
            state = _readable_state(txn)
            if state.status == "confirmed":
                return state
            if state.status != "pending":
                raise Refused(f"transaction {state.id} is {state.status}; there is nothing to confirm")
            if not state.seconds_left():
                raise Refused(f"transaction {state.id}: the deadline has passed; it is being rolled back")
            here = environ.get("SSH_CONNECTION", "")
            if state.needs_new_login and not same_session:
                _require_new_login(root, state)
            state.status = "confirmed"
            state.notes.append(f"confirmed from {here or 'a local session'}")
            txn.write_state(state)
    except Busy:
        raise Refused("the journal is locked by another tui-jail process; try again") from None
    stop_timer(root, state.id)
    return state


def _require_new_login(root: Root, state: TxnState) -> None:
    """Refuse, saying why and what to do, unless this process runs in a connection sshd accepted
    after it served the change (the connection's monitor process started later)."""
    from tui_jail.txn import entry  # the command a refusal names: a confirm that goes through needs none

    login = session.own_login()
    if login is not None and login.accepted > state.new_login_after:
        return
    served = _clock_time(session.wall_time(state.new_login_after))
    if login is None:
        why = "this session is not an SSH login (a console, or a tmux or screen started earlier)"
        ssh = "ssh -o ControlPath=none to this host"
    else:
        ago = (state.new_login_after - login.accepted) / session.TICKS
        why = (
            f"this connection ({login.describe()}) was opened at {_clock_time(session.wall_time(login.accepted))}, "
            f"{ago:.0f} s before sshd served the change at {served} (a new shell over a ControlMaster connection "
            "is still the old connection)"
        )
        _, _, server, port = login.connection.split()
        ssh = f"ssh -o ControlPath=none {login.user}@{server}" + (f" -p {port}" if port != "22" else "")
    raise Refused(
        f"confirm from a new SSH login: {why}, and only a login made after the change proves that logins still "
        f"work. In a new terminal: {ssh}, then run {entry.command(root, 'confirm', state.id)} "
        "(or pass --same-session to confirm without that proof)"
    )


def _clock_time(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def extend(root: Root, txn_id: str | None, seconds: float) -> TxnState:
    """Push a pending deadline `seconds` further (from now, if it is nearer than that), at most a day
    from now: further, a deadline is no safety net (and the watchdog takes it for a damaged one)."""
    from tui_jail.txn import arming  # (and with it subprocess and socket) for an extension alone, not a confirm

    if problem := journal.wait_problem(seconds):
        raise Refused(f"--extend {problem}")
    txn = _pending(root, txn_id)
    with journal.locked(root, wait=30):
        state = _readable_state(txn)
        if state.status != "pending" or not state.seconds_left():
            why = state.status if state.status != "pending" else "past its deadline"
            raise Refused(f"transaction {state.id} is {why}; only a pending one can be extended")
        state.set_deadline(min(state.seconds_left() + seconds, LONGEST_WAIT))
        state.notes.append(f"deadline extended by {seconds:g} s")
        txn.write_state(state)
    stop_timer(root, state.id)
    arming.arm_systemd_timer(root, state.id, state.seconds_left())
    return state


def rollback_txn(root: Root, txn_id: str | None, reason: str) -> TxnState:
    txn = _pending(root, txn_id)
    try:
        with journal.locked(root, wait=30):
            state, problem = txn.state_or_stand_in()
            if state.status == "confirmed" and not problem:
                raise Refused(f"transaction {state.id} is confirmed; take the jail down with tui-jail remove")
            if state.status == "rolled-back" and not problem:
                return state
            if problem and txn.ended():  # a damaged finished entry: nothing of it to undo
                raise Refused(f"damaged journal entry {problem}: it ended {txn.ended()}; nothing to roll back")
            return rollback(txn, reason)
    except Busy:
        raise Refused(pending_refusal(root)) from None
