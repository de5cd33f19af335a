"""Driving the real wizard the way an admin does: a tmux of the test's own, 80x24, ssh logins in it.

`Tmux` is a private tmux server (its own socket, `-f` a config of its own, no status line so a pane is
the whole 80x24) that the test kills by that socket when done; it never talks to another tmux server.
Keys go one `send-keys` at a time; the screen is read with `capture-pane` and waited on with a
deadline (never a fixed sleep), so a loaded machine only makes a wait longer. `Login` is the ssh
command line of one key login as the admin; every window of the walkthrough is a new login.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nsenv

WIDTH, HEIGHT = 80, 24
TMUX_CONFIG = """\
set -g status off
set -g remain-on-exit on
set -g default-terminal tmux-256color
set -g history-limit 2000
set -sg escape-time 0
"""


def venv_tui_jail() -> str:
    """The tui-jail entry point of the venv running the tests (what an admin would have installed)."""
    return str(Path(sys.executable).parent / "tui-jail")


@dataclass(frozen=True)
class Login:
    """`ssh -tt` as `user` to the test's sshd, running `command` there (a new connection each time)."""

    user: nsenv.TestUser
    port: int

    def argv(self, command: str) -> list[str]:
        options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "IdentitiesOnly=yes"]
        options += ["BatchMode=yes", "LogLevel=ERROR", "ControlPath=none"]
        argv = ["ssh", "-F", "/dev/null", "-tt", "-p", str(self.port), "-i", str(self.user.key)]
        for option in options:
            argv += ["-o", option]
        return [*argv, f"{self.user.name}@127.0.0.1", command]

    def shell(self, command: str) -> str:
        return shlex.join(self.argv(command))


class Tmux:
    """A tmux server of the test's own, one session, a window per login."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "tmux.sock"
        self.config = workdir / "tmux.conf"
        self.config.write_text(TMUX_CONFIG)
        self.started = False

    def _tmux(self, *args: str) -> str:
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.config), *args]
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=10).stdout

    def open(self, window: str, command: str) -> None:
        """A window named `window` running `command` (the first one starts the server)."""
        if not self.started:
            self._tmux("new-session", "-d", "-s", "walk", "-n", window, "-x", str(WIDTH), "-y", str(HEIGHT), command)
            self.started = True
        else:
            self._tmux("new-window", "-d", "-t", "walk", "-n", window, command)
        size = self._tmux("display-message", "-p", "-t", f"walk:{window}", "#{pane_width}x#{pane_height}").strip()
        assert size == f"{WIDTH}x{HEIGHT}", size

    def press(self, window: str, *keys: str) -> None:
        """Each key in its own send-keys, as typed (tmux key names: Enter, Escape, C-n, Tab, Down…)."""
        for key in keys:
            self._tmux("send-keys", "-t", f"walk:{window}", key)

    def press_seen(self, window: str, key: str, timeout: float = 30.0) -> None:
        """One key, then wait until the screen (colours included: a focus moving) shows it was handled.
        Keys typed ahead of a binding (Tab, ctrl+u) can be handled before it: Textual hands printable
        keys to the focused field at once, and runs a binding once the key has bubbled up to the app."""
        before = self.styled(window)
        self.press(window, key)
        self.wait(window, lambda _: self.styled(window) != before, timeout)

    def type(self, window: str, text: str) -> None:
        """Text typed one character at a time (literally: `[`, `;` and the like are not key names)."""
        for char in text:
            self._tmux("send-keys", "-t", f"walk:{window}", "-l", char)

    def screen(self, window: str) -> str:
        return self._tmux("capture-pane", "-p", "-t", f"walk:{window}")

    def output(self, window: str) -> str:
        """What a command printed, history included, its long lines joined again."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", f"walk:{window}")

    def styled(self, window: str) -> str:
        return self._tmux("capture-pane", "-p", "-e", "-t", f"walk:{window}")

    def wait(self, window: str, ready: str | Callable[[str], bool], timeout: float = 60.0) -> str:
        """The screen once `ready` (a text on it, or a test of it) holds; fails with the screen at the deadline."""
        test = (lambda screen: ready in screen or ready in flat(screen)) if isinstance(ready, str) else ready
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(window)
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:g} s for {ready!r}; the screen:\n{screen}")
            time.sleep(0.1)

    def pane_pid(self, window: str) -> int:
        return int(self._tmux("display-message", "-p", "-t", f"walk:{window}", "#{pane_pid}"))

    def dead(self, window: str) -> bool:
        return self._tmux("display-message", "-p", "-t", f"walk:{window}", "#{pane_dead}").strip() == "1"

    def kill(self) -> None:
        """This server alone, by its socket."""
        if self.started:
            subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], check=False, capture_output=True)
            self.started = False


def flat(screen: str) -> str:
    """The screen's words in one line: a sentence wrapped over two lines reads as one."""
    return " ".join(screen.split())


def glyphless(screen: str) -> str:
    """The screen with box drawing and runs of spaces squeezed, for assertions on what a line says."""
    return re.sub(r"[ \u2500-\u257f]+", " ", screen)


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
