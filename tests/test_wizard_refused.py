"""Pilot tests of a refused preflight: nothing was applied, so the apply step offers no keep, no
rollback and no "Next applies it"; Next leads to the step that can fix what preflight found and Back
returns to the review. Preflight runs for real (sshd -T on the candidate config, the root's modes)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Label, Static
from wizard_support import SETTINGS_KEYS, keys, run_async, settle, until, walk, wizard

from tui_jail.screens.access import AccessScreen
from tui_jail.screens.apply import ApplyScreen
from tui_jail.screens.mounts import MountsScreen
from tui_jail.screens.review import ReviewScreen
from tui_jail.screens.transaction_panel import TransactionPanel

# the admin's login from the seedbox's own address as its user: the jail would catch it. The access
# step refuses Next for that, so the tests switch to it after the review (as a login with a user the
# lists only match through sshd's own rules would reach preflight)
CAUGHT = {"SSH_CONNECTION": "203.0.113.7 50022 192.0.2.1 22", "SUDO_USER": "media"}


async def refused(pilot, before_apply=lambda: None) -> ApplyScreen:  # type: ignore[no-untyped-def]
    await keys(pilot, *walk("seedbox-sftp", "review"))
    before_apply()
    await keys(pilot, "ctrl+n")
    screen = pilot.app.screen
    assert isinstance(screen, ApplyScreen)
    await until(pilot, lambda: screen.has_class("-refused"))
    return screen


def findings(screen: ApplyScreen) -> str:
    return str(screen.query_one("#findings", Static).render())


@run_async
async def test_a_refused_own_connection_leads_back_to_access(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await refused(pilot, lambda: setattr(app.state, "environ", CAUGHT))
        assert "would lock you out" in findings(screen)
        assert not screen.query_one(TransactionPanel).display  # no "Next applies it … rolls back"
        button = screen.query_one("#next-button", Button)
        assert str(button.label) == "Fix in Access ▶" and not button.disabled
        active = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert not {"keep", "extend", "rollback"} & active, active  # nothing to keep or roll back
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, AccessScreen)
        assert app.screen.query_one("#addresses-input").value == "203.0.113.7"  # the entries are kept


@run_async
async def test_back_after_a_refused_preflight_returns_to_the_review(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await refused(pilot, lambda: (sample_root / "tank/IncomingTV").rmdir())
        await keys(pilot, "escape")
        assert isinstance(app.screen, ReviewScreen)


@run_async
async def test_a_source_gone_since_the_review_leads_back_to_mounts(sample_root: Path) -> None:
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await refused(pilot, lambda: (sample_root / "tank/IncomingTV").rmdir())
        assert "bind source /tank/IncomingTV does not exist" in findings(screen)
        assert str(screen.query_one("#next-button", Button).label) == "Fix in Mounts ▶"
        await keys(pilot, "ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, MountsScreen)


@run_async
async def test_a_plan_refused_on_the_review_leads_to_the_step_that_fixes_it(sample_root: Path) -> None:
    """A jail root under the world-writable /tmp cannot be planned: the review says why, wrapped, and
    Next goes to Mounts where the root is edited (it offered a disabled Apply and 'go back')."""
    app = wizard(sample_root)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(pilot, *walk("seedbox-sftp", "mounts"))
        app.screen.query_one("#root-input").focus()
        await keys(pilot, "ctrl+u", "type:/tmp/jail", "ctrl+n", *SETTINGS_KEYS["seedbox-sftp"], "ctrl+n")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        summary = screen.query_one("#summary", Label)
        assert "/tmp is writable by others" in str(summary.render()) and summary.size.height > 1
        button = screen.query_one("#next-button", Button)
        assert str(button.label) == "Fix in Mounts ▶" and not button.disabled
        await keys(pilot, "ctrl+n")
        assert isinstance(app.screen, MountsScreen)
        assert app.screen.query_one("#root-input").value == "/tmp/jail"
