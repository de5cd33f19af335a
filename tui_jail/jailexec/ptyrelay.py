"""`tui-jail exec --pty`: the job gets a terminal of its own, and this relays between it and the caller's.

Without --pty a job keeps the caller's terminal as its standard streams but not as its controlling tty
(the launcher gives it up), so it cannot push input into the admin's shell, and it has no job control.
With --pty the job is a session leader on a new pseudo-terminal: an interactive shell works, and
whatever it does to that terminal (TIOCSTI included) stays there. The caller's terminal is put in raw
mode while the relay runs (so keys such as Ctrl-C reach the job's terminal, which makes them signals)
and restored afterwards. Imported only with --pty: the default start-up path does not pay for termios.
"""

from __future__ import annotations

import fcntl
import os
import select
import termios
import tty

CHUNK = 65536


def relay(master: int) -> None:
    """Copy the caller's stdin to the job's terminal and its output to stdout until the job's side closes."""
    interactive = os.isatty(0)
    saved = termios.tcgetattr(0) if interactive else None
    if interactive:
        fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
        tty.setraw(0)
    try:
        inputs = [master, 0]
        while True:
            ready, _, _ = select.select(inputs, [], [])
            if master in ready:
                try:
                    data = os.read(master, CHUNK)
                except OSError:  # EIO: every holder of the job's side has closed it
                    data = b""
                if not data:
                    return
                _write_all(1, data)
            if 0 in ready:
                data = os.read(0, CHUNK)
                if data:
                    _write_all(master, data)
                else:  # end of the caller's input: end of file for the job too
                    inputs.remove(0)
                    _write_all(master, bytes([termios.tcgetattr(master)[6][termios.VEOF][0]]))
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]
