"""Backends: one module per concern (fstab, sshd, mounts, ownership, capabilities). Each knows how to
render its part of a plan, apply and undo its steps, and check the live result."""
