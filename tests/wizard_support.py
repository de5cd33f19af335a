"""Driving the wizard in tests: build the app as the CLI does, press keys, wait for it to settle.

Shared by the Pilot tests (test_wizard_*.py) and the snapshot tests (test_snapshots*.py). The app is
built on a sandbox root with an empty environment (no SSH_CONNECTION unless a test passes one) and
a fixed clock, so every screen renders the same on every run.
"""

from __future__ import annotations

import asyncio
import functools
import html
import os
import re
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Label

from tui_jail.app import WizardApp, make_app
from tui_jail.txn.journal import DEFAULT_TIMEOUT

T0 = 1_700_000_000.0


def wizard(
    root: Path,
    environ: Mapping[str, str] | None = None,
    save_dir: Path | None = None,
    clock: Callable[[], float] = lambda: T0,
    confirm_timeout: float = DEFAULT_TIMEOUT,
) -> WizardApp:
    return make_app(
        root=root,
        sandbox=True,
        clock=clock,
        environ=environ or {},
        save_dir=save_dir or root,
        root_label="SANDBOX",
        confirm_timeout=confirm_timeout,
        program="tui-jail",  # the running entry point's path would vary with the checkout
    )


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """An async test run to completion in a fresh loop (the project has no async pytest plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


LASTING = ("wizard", "watch")  # the orchestrator and a journal watcher end only with their screen


async def settle(pilot: Pilot[None]) -> None:
    """Let screen switches land and every worker but the lasting ones finish."""
    await pilot.pause()
    busy = [w for w in pilot.app.workers if w.group not in LASTING]
    if busy:
        await pilot.app.workers.wait_for_complete(busy)
    # a widget mounted by a worker's message (the review's tabs) places its underline after a refresh
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def keys(pilot: Pilot[None], *steps: str) -> None:
    """Each step is a key name or `type:text`; the app settles after every step."""
    for step in steps:
        if step.startswith("type:"):
            await pilot.press(*step.removeprefix("type:"))
        else:
            await pilot.press(step)
        await settle(pilot)


# how to reach each step from the start, per preset: the keys a user would press
PRESET_KEYS = {
    "seedbox-sftp": [],
    "joblet-production": ["down"],
    "joblet-builder": ["down", "down"],
    "awf-host-chroot": ["down", "down", "down"],
}
SETTINGS_KEYS = {
    "seedbox-sftp": ["type:203.0.113.7", "tab", "type:media"],
    "joblet-production": [],
    "joblet-builder": [],
    "awf-host-chroot": ["type:agent"],
}


def walk(preset: str, stage: str) -> list[str]:
    """Keys from the start to `stage` (preset, mounts, settings, review) for `preset`."""
    steps = list(PRESET_KEYS[preset])
    if stage == "preset":
        return steps
    steps.append("enter")
    if stage == "mounts":
        return steps
    steps.append("ctrl+n")
    if stage == "settings-empty":
        return steps
    steps += SETTINGS_KEYS[preset]
    if stage == "settings":
        return steps
    steps.append("ctrl+n")
    assert stage == "review", stage
    return steps


def pending_transaction(root: Path, *, watchdog_alive: bool = True, seconds_left: float = 90) -> str:
    """A transaction journal left pending (applied, unconfirmed) under `root`, with nothing to undo.
    Its watchdog is this test process (alive, and never rolling back), so it shows as armed; or, with
    `watchdog_alive=False`, a process that has gone since (this pid with another start time)."""
    from tui_jail.txn.journal import Journal, TxnState
    from tui_jail.txn.journal_layout import process_start

    state = TxnState(
        id="20231114-221320-rclone-sftp",
        jail="rclone-sftp",
        action="apply",
        status="pending",
        created=T0 - 30,
        deadline=T0 + 90,
        timeout=120,
        user="admin",
        ssh_connection="198.51.100.4 50022 192.0.2.1 22",
        watchdog_pid=os.getpid(),
        watchdog_start=process_start(os.getpid()) + (0 if watchdog_alive else 1),
        new_login_after=1,
    )
    state.set_deadline(90)
    state.boot_deadline += seconds_left - 90
    state.deadline = T0 + 90  # what the wizard's fixed clock counts down from
    plan = "jail rclone-sftp (sftp): changes: 1 file, 0 mounts, 0 paths\n\n--- a/etc/fstab\n+++ b/etc/fstab\n"
    Journal.create(root, state, [], {}, plan)
    return state.id


def stop_watchdog(root: Path, txn_id: str) -> None:
    """Kill the watchdog a test made the wizard arm (by its recorded pid and start time)."""
    import signal

    from tui_jail.txn.journal import Journal

    state = Journal(root, txn_id).state()
    if state.watchdog_running() and state.watchdog_pid != os.getpid():
        os.kill(state.watchdog_pid, signal.SIGKILL)


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until `condition` holds (a worker's message arrived); fail after `timeout` s."""
    give_up = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > give_up:
            shown = " | ".join(str(label.render()) for label in pilot.app.screen.query(Label) if str(label.render()))
            raise AssertionError(f"still waiting after {timeout} s on {pilot.app.screen!r}: {shown}")
        await pilot.pause(0.05)


async def on_first_screen(pilot: Pilot[None]) -> None:
    """Until the wizard shows its first screen: the start-up check of the journal comes first (it
    may arm a watchdog or roll back)."""
    if pilot.app.screen.id == "_default":  # Textual's screen before the first push
        await until(pilot, lambda: pilot.app.screen.id != "_default")
    await settle(pilot)


def txn_status(app: WizardApp) -> str | None:
    """The status of the transaction the current screen holds (apply, recovery), or None."""
    txn = getattr(app.screen, "txn", None)
    return txn.status if txn is not None else None


def applied_jails(root: Path) -> None:
    """Three jails recorded as applied under `root` (their specs where apply keeps them), in three
    states: rclone-sftp confirmed, joblet-production's newest change rolled back, joblet-builder with
    no journal left. Nothing is mounted: the quick verify finds each one drifted."""
    from tui_jail.presets import preset_text
    from tui_jail.txn.journal import Journal, TxnState

    jails = root / "var/lib/tui-jail/jails"
    jails.mkdir(parents=True, exist_ok=True)
    specs = {
        "rclone-sftp": preset_text("seedbox-sftp")
        .replace("<media-user>", "media")
        .replace("<seedbox-ip>", "203.0.113.7"),
        "joblet-production": preset_text("joblet-production"),
        "joblet-builder": preset_text("joblet-builder"),
    }
    for name, text in specs.items():
        (jails / f"{name}.yaml").write_text(
            f"# tui-jail: the applied spec of jail {name}. Written by tui-jail apply; do not edit.\n{text}"
        )
    for number, (name, status) in enumerate((("rclone-sftp", "confirmed"), ("joblet-production", "rolled-back"))):
        state = TxnState(
            id=f"20231114-22132{number}-{name}",
            jail=name,
            action="apply",
            status=status,
            created=T0 - 3600 * (number + 1),
            deadline=T0,
            timeout=120,
            user="admin",
        )
        Journal.create(root, state, [], {}, f"jail {name}\n")


# the Linux console's default font: the VGA font of code page 437 (its upper half, and the symbols
# its control codes draw), plus ASCII
CP437_SYMBOLS = "☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼⌂"
CONSOLE_FONT = set(bytes(range(0x20, 0x7F)).decode("ascii")) | set(bytes(range(0x80, 0x100)).decode("cp437"))
CONSOLE_FONT |= set(CP437_SYMBOLS)


def drawn_lines(svg: str) -> list[str]:
    """The terminal's lines in a screenshot (not its window title), as drawn."""
    lines: dict[int, str] = {}
    for number, text in re.findall(r'<text [^>]*clip-path="url\(#[^"]*-line-(\d+)\)">(.*?)</text>', svg):
        lines[int(number)] = lines.get(int(number), "") + html.unescape(text).replace("\xa0", " ")
    return [lines[number] for number in sorted(lines)]


def drawn(svg: str) -> str:
    """Every character drawn on the terminal's lines."""
    return "".join(drawn_lines(svg))
