"""The wizard as an admin meets it: a real SSH login into a tmux at 80x24, keys sent one at a time.

A real sshd runs in the suite's private mount namespace on its own port, reading the sample root's
/etc/ssh (bound over the scratch /etc/ssh), so the change the wizard applies is the daemon's own
config and its reload is real. The admin is a uid-0 account with a key, made in the scratch /etc; each
window of the test's private tmux is a new `ssh -tt` login running the venv's `tui-jail --root
SAMPLE`. What a test asserts is what the admin reads on the screen (`capture-pane`), waited for with a
deadline. The Pilot tests cover each state in detail; these walk them end to end over SSH:
the seedbox walkthrough (preset, mounts, access with markup typed, review, apply, live checks re-run
with `v` while pending, confirm from a new login in a second window, verify, the home screen it leads
to), a refused preflight leading to the step that fixes it, and a session killed while a change is
pending: its watchdog rolls the change back, and the next login's wizard opens on recovery and shows it;
and the screens of issue 16 items 5-10 as read at 80x24, the last of them from a login at TERM=linux.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nsenv
import pytest
from ssh_tmux import Login, Tmux, glyphless, venv_tui_jail, wait_gone
from wizard_support import CONSOLE_FONT

from tui_jail.txn import journal

pytestmark = [
    pytest.mark.ns,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not nsenv.in_private_mount_ns(), reason="needs root in a private mount ns"),
    pytest.mark.skipif(not os.access(venv_tui_jail(), os.X_OK), reason="no venv tui-jail entry point"),
]

# each step's place in the header, as the admin reads it
PRESET, MOUNTS, ACCESS, REVIEW, VERIFY = "1/6 Preset", "2/6 Mounts", "3/6 Access", "4/6 Review", "6/6 Verify"


@dataclass
class Site:
    root: Path
    login: Login
    tmux: Tmux

    def wizard(self, window: str) -> None:
        """A new login running the wizard on the sample root, in a new window."""
        self.tmux.open(window, self.login.shell(f"{venv_tui_jail()} --root {self.root}"))

    def run(self, window: str, *args: str) -> None:
        self.tmux.open(window, self.login.shell(" ".join([venv_tui_jail(), "--root", str(self.root), *args])))

    def fstab(self) -> str:
        return (self.root / "etc/fstab").read_text()


@pytest.fixture
def site(wizard_root: Path, tmp_path: Path) -> Iterator[Site]:
    nsenv.private_world(tmp_path / "world")
    Path("/var/log/lastlog").touch()  # sshd's login records: without it every login prints a complaint
    nsenv.tmpfs_over("/mnt")
    if subprocess.run(["id", "tjadmin"], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "-o", "-u", "0", "-g", "0", "-m", "-d", "/mnt/tjadmin", "-s", "/bin/bash", "tjadmin"],
            check=True,
            capture_output=True,
        )
    admin = nsenv.add_user("tjadmin", Path("/mnt"))
    subprocess.run(["mount", "--bind", str(wizard_root / "etc/ssh"), "/etc/ssh"], check=True)
    (wizard_root / "run").mkdir(exist_ok=True)
    server = nsenv.SshServer(Path("/etc/ssh/sshd_config"), nsenv.free_port())
    server.pid_file = wizard_root / "run/sshd.pid"  # where tui-jail looks: the config's default PidFile
    tmux = Tmux(tmp_path / "tmux")
    try:
        with server:
            yield Site(wizard_root, Login(admin, server.port), tmux)
    finally:
        tmux.kill()
        subprocess.run(["umount", "/etc/ssh"], check=True)


def fill(tmux: Tmux, window: str, text: str) -> None:
    """Type into the focused field and wait until it shows the text, as an admin does before moving on."""
    tmux.type(window, text)
    tmux.wait(window, f"▊  {text} ")


def walk_to_review(site: Site, window: str) -> None:
    """Preset → mounts → access → review for the seedbox, as typed."""
    tmux = site.tmux
    tmux.wait(window, PRESET)
    tmux.press(window, "Enter")
    tmux.wait(window, MOUNTS)
    tmux.press(window, "C-n")
    tmux.wait(window, ACCESS)
    fill(tmux, window, "203.0.113.7")
    tmux.press_seen(window, "Tab")
    fill(tmux, window, "media")
    tmux.press(window, "C-n")
    tmux.wait(window, "mount tree")


def test_the_seedbox_walkthrough_over_ssh(site: Site) -> None:
    """Preset, mounts, access (markup typed into it is shown as text), review, apply, the live checks
    while pending and again on `v`, confirm from a new login, verify; the next login opens on home."""
    tmux, w = site.tmux, "wizard"
    site.wizard(w)
    tmux.wait(w, PRESET)
    tmux.press(w, "Enter")
    tmux.wait(w, MOUNTS)
    tmux.press(w, "C-n")
    tmux.wait(w, ACCESS)
    tmux.type(w, "127.0.0.2, [/]")  # markup: once a MarkupError that killed the wizard
    screen = tmux.wait(w, "drop the brackets: '[/]'")
    assert "127.0.0.2, [/]" in screen
    tmux.press_seen(w, "C-u")
    fill(tmux, w, "203.0.113.7")
    tmux.press_seen(w, "Tab")
    fill(tmux, w, "media")
    tmux.press(w, "C-n")
    screen = tmux.wait(w, "mount tree")  # the last tab, once the plan is made
    assert REVIEW in screen and "changes: 3 files, 4 mounts" in screen and "50-tui-jail-rclone-sftp.conf" in screen

    tmux.press(w, "C-n")
    tmux.wait(w, "Preflight passed: nothing here would lock you out.")
    assert "your connection (tjadmin from 127.0.0.1) is not jailed" in glyphless(tmux.screen(w))
    tmux.press(w, "C-n")
    screen = tmux.wait(w, "every live check passes (v checks again)")
    assert "s left" in screen and "Watchdog armed" in screen  # the countdown stays in view
    assert "# BEGIN tui-jail rclone-sftp" in site.fstab()

    # test before keep: break the jail's chain behind the wizard's back, v sees it, fix it, v again
    jail = site.root / "chroot/rclone-sftp"
    jail.chmod(0o775)
    tmux.press(w, "v")
    screen = tmux.wait(w, "1 live check(s) failed")
    assert "fix:" in screen and "s left" in screen
    jail.chmod(0o755)
    tmux.press(w, "v")
    tmux.wait(w, "every live check passes (v checks again)")

    # the proof of access: a new login confirms, from a second window; the wizard sees it live
    txn = journal.unfinished(site.root)[-1].id
    site.run("confirm", "confirm")
    tmux.wait("confirm", lambda _: tmux.dead("confirm"))
    assert f"transaction {txn} confirmed: apply of jail rclone-sftp is kept" in tmux.output("confirm")
    screen = tmux.wait(w, "Applied and confirmed.")
    assert "Confirmed: the change is kept." in screen
    tmux.press(w, "C-n")
    screen = tmux.wait(w, "the jail works as specified")
    assert VERIFY in screen
    tmux.press(w, "C-n")
    tmux.wait(w, lambda _: tmux.dead(w))  # Done: the wizard ends, the login with it

    site.wizard("home")
    screen = glyphless(tmux.wait("home", "Applied jails."))
    assert "rclone-sftp sftp confirmed" in screen and "/chroot/rclone-sftp" in screen
    tmux.wait("home", "in sync")  # drift: the quick verify filled in after the list painted


def test_a_refused_preflight_leads_to_the_step_that_fixes_it(site: Site) -> None:
    """A source gone between the review and the apply: preflight refuses, Next goes to Mounts, the
    row is removed there, and the same apply then passes preflight."""
    tmux, w = site.tmux, "wizard"
    site.wizard(w)
    walk_to_review(site, w)
    (site.root / "tank/IncomingTV").rmdir()
    tmux.press(w, "C-n")
    screen = tmux.wait(w, "Preflight refused this change; nothing was changed.")
    assert "bind source /tank/IncomingTV does not exist" in screen
    assert "Fix in Mounts" in screen and "Next applies it" not in screen and "s left" not in screen
    tmux.press(w, "C-n")
    tmux.wait(w, lambda s: MOUNTS in s and "/tank/IncomingTV " in s)  # the entries are kept
    tmux.press(w, "Down")
    tmux.press(w, "Down")
    tmux.press(w, "d")
    tmux.wait(w, lambda s: "/tank/IncomingTV " not in s)
    tmux.press(w, "C-n")
    tmux.wait(w, ACCESS)
    tmux.press(w, "C-n")
    tmux.wait(w, lambda s: "changes: 3 files, 3 mounts" in s and "mount tree" in s)
    tmux.press(w, "C-n")
    tmux.wait(w, "Preflight passed")
    assert "BEGIN tui-jail" not in site.fstab()  # nothing applied yet


def test_a_killed_session_is_rolled_back_and_the_wizard_reopens_on_recovery(site: Site) -> None:
    """The ssh client dies while the change is pending: the watchdog outlives the session and rolls it
    back at the deadline; the next login's wizard opens on recovery, counting down, then shows why."""
    tmux, w = site.tmux, "doomed"
    before = site.fstab()
    site.wizard(w)
    walk_to_review(site, w)
    tmux.press(w, "C-n")
    tmux.wait(w, "Preflight passed")
    tmux.press_seen(w, "BTab")  # Next has the focus: Back, then the deadline field
    tmux.press_seen(w, "BTab")
    tmux.press(w, "C-u")
    tmux.wait(w, "deadline: 1 to 86400 seconds")  # an empty deadline, said in the bar
    tmux.type(w, "30")
    tmux.wait(w, "unless confirmed within 30 ")
    tmux.press(w, "C-n")
    tmux.wait(w, "s left")
    assert "# BEGIN tui-jail rclone-sftp" in site.fstab()

    client = tmux.pane_pid(w)
    os.kill(client, signal.SIGKILL)  # the admin's connection drops: our own ssh client, by its pid
    wait_gone(client)

    site.wizard("back")  # pending still, or rolled back already on a slow machine: recovery shows it
    screen = glyphless(tmux.wait("back", "(apply rclone-sftp)"))
    assert "Applied by tjadmin from 127.0.0.1" in screen
    screen = tmux.wait("back", "is rolled back: nothing of it is left", timeout=90)
    assert "why: watchdog: the confirm deadline passed without a confirmation" in screen
    assert "│+  x-systemd.requires-mounts-for=" in screen  # a wrapped fstab line still reads as added
    assert site.fstab() == before
    tmux.press("back", "C-n")
    tmux.wait("back", PRESET)  # no applied jail: a new one from a preset


def continued_with_marker(screen: str) -> bool:
    """A wrapped diff line's continuation on screen: its `+` marker, then the indent."""
    return any(re.match(r"[│ ]*\+  \S", line) for line in screen.splitlines())


def off_font(screen: str) -> set[str]:
    return set(screen) - CONSOLE_FONT - {"\n"}


def test_the_screens_read_at_80x24_and_on_a_console_over_ssh(site: Site) -> None:
    """Issue 16 items 5-10 as typed over the login: the open dialog completes a path, presets are named
    by title, the access step's warning and the bar's refusal follow the fields, checkboxes read [x]/[ ],
    the review's keys (help line, t, w keeping + on continuations); then a second login at TERM=linux
    walks an exec preset with a placeholder (?) drawing only what the console font has."""
    tmux, w = site.tmux, "screens"
    Path("/mnt/walk/specs").mkdir(parents=True)
    Path("/mnt/walk/specs/rclone-one.yaml").write_text("")
    site.wizard(w)
    screen = tmux.wait(w, "Security Hardening: Chroot Jail Implementation")  # 9: by title
    assert ".txt" not in screen and "shared/sources" not in screen
    tmux.press(w, "o")  # 8: the open dialog completes a partial path on Tab
    tmux.wait(w, "tab: complete")
    tmux.type(w, "/mnt/walk/sp")
    tmux.wait(w, "/mnt/walk/sp ")
    tmux.press(w, "Tab")
    tmux.wait(w, "/mnt/walk/specs/ ")
    tmux.press(w, "Escape")
    tmux.wait(w, lambda s: "tab: complete" not in s)

    tmux.press(w, "Enter")
    screen = tmux.wait(w, MOUNTS)
    assert off_font(screen)  # the control for item 10: outside the console, symbols the font lacks
    tmux.press(w, "C-n")
    tmux.wait(w, ACCESS)
    # 5: the warning says which of the admin's own address and user match; both refuse Next in the bar
    fill(tmux, w, "127.0.0.1")
    tmux.wait(w, "your own address 127.0.0.1 is in the list (your user tjadmin is not)")
    tmux.press_seen(w, "Tab")
    fill(tmux, w, "tjadmin")
    tmux.wait(w, "your own login (tjadmin from 127.0.0.1) matches both lists")
    tmux.press(w, "C-n")
    tmux.wait(w, "your own login would be jailed")
    for _ in "tjadmin":
        tmux.press_seen(w, "BSpace")
    fill(tmux, w, "media")
    screen = tmux.wait(w, "your own address 127.0.0.1 is in the list (your user tjadmin is not)")
    assert "would be jailed" not in screen  # the bar's refusal went with the fix
    # 7: the forwarding checkboxes read [ ] and [x], not a coloured X
    assert "[ ] allow TCP forwarding" in screen
    tmux.press_seen(w, "Tab")
    tmux.press(w, "space")
    tmux.wait(w, "[x] allow TCP forwarding")
    tmux.press(w, "C-n")  # Next is allowed: only the address matches
    screen = tmux.wait(w, "mount tree")
    assert REVIEW in screen

    # 8 and 6: the review's keys said and working; w wraps keeping the + on continuations
    tmux.wait(w, "←/→ switch tabs")
    assert not continued_with_marker(screen)
    tmux.press(w, "w")
    screen = tmux.wait(w, continued_with_marker)
    tmux.press(w, "t")
    tmux.wait(w, "tab 4 of 4: the mount tree")

    # 8: a placeholder row (awf-host-chroot's /home/<agent-user>) reads ?, not a check mark
    a = "awf"
    site.wizard(a)
    tmux.wait(a, PRESET)
    for _ in range(3):
        tmux.press_seen(a, "Down")
    tmux.press(a, "Enter")
    screen = tmux.wait(a, lambda s: MOUNTS in s and "<agent-user>" in s)
    placeholder = next(line for line in screen.splitlines() if "/home/<agent-user>" in line)
    assert re.match(r"\W*\? ", placeholder), placeholder

    # 10 (and 7's capabilities): an exec preset walked at TERM=linux, each screen within the console font
    c = "console"
    site.tmux.open(c, site.login.shell(f"env TERM=linux {venv_tui_jail()} --root {site.root}"))
    screen = tmux.wait(c, PRESET)
    seen = {"preset": off_font(screen)}
    tmux.press_seen(c, "Down")
    tmux.press(c, "Enter")
    screen = tmux.wait(c, lambda s: MOUNTS in s and "/opt/" in s)
    seen["mounts"] = off_font(screen)
    tmux.press(c, "C-n")
    screen = tmux.wait(c, "3/6 Capabilities")
    assert "[x] drop" in screen and "[ ] held" in screen
    seen["capabilities"] = off_font(screen)
    tmux.press(c, "C-n")
    screen = tmux.wait(c, "tab 1 of 9: /etc/fstab")  # 9 tabs: the tree's is past the 80th column
    seen["review"] = off_font(screen)
    tmux.press(c, "w")
    screen = tmux.wait(c, continued_with_marker)
    seen["wrapped review"] = off_font(screen)
    assert not any(seen.values()), seen
