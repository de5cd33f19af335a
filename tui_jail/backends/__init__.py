"""Backends: one module per concern that reads or changes live state (sshd, systemd, mounts, capabilities).
Each knows how to apply and undo its part of a plan and check the live result; the text they write
(fstab, sshd_config) is parsed and rendered by the pure core."""
