"""Where str.splitlines breaks a text, known without splitting it: the large files a plan reads
(fstab, sshd_config) are searched whole and only the lines that matter split off."""

from __future__ import annotations

# what str.splitlines breaks a line at besides "\n" (and "\r\n")
_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def only_newline_breaks(text: str) -> bool:
    """Whether str.splitlines breaks `text` only after its "\n"s (a "\r\n" counts as one break): then its
    lines are what lies between them, a line's start is past a "\n" and text.count("\n") numbers them."""
    if any(mark in text for mark in _OTHER_BREAKS):  # `in` is a memchr, count() a slow loop: only for a "\r"
        return False
    return "\r" not in text or text.count("\r") == text.count("\r\n")
