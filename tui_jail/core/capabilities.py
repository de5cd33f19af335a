"""Linux capability names, bit numbers and one-line meanings.

Shared by the spec (validating names), the exec launcher (dropping by bit) and verification
(decoding `/proc/<pid>/status` masks back to names). Pure data, no I/O.
"""

# (bit, meaning) in kernel order, from include/uapi/linux/capability.h
CAPABILITIES: dict[str, tuple[int, str]] = {
    "CAP_CHOWN": (0, "change file owners"),
    "CAP_DAC_OVERRIDE": (1, "bypass file read/write/execute permission checks"),
    "CAP_DAC_READ_SEARCH": (2, "bypass file read and directory search checks"),
    "CAP_FOWNER": (3, "bypass checks that need the file's owner"),
    "CAP_FSETID": (4, "keep set-user-ID bits when a file changes"),
    "CAP_KILL": (5, "send signals to any process"),
    "CAP_SETGID": (6, "change group IDs"),
    "CAP_SETUID": (7, "change user IDs"),
    "CAP_SETPCAP": (8, "change capability sets and the bounding set"),
    "CAP_LINUX_IMMUTABLE": (9, "set immutable and append-only file flags"),
    "CAP_NET_BIND_SERVICE": (10, "bind ports below 1024"),
    "CAP_NET_BROADCAST": (11, "broadcast and listen to multicast"),
    "CAP_NET_ADMIN": (12, "configure interfaces, routes and firewall rules"),
    "CAP_NET_RAW": (13, "open raw and packet sockets"),
    "CAP_IPC_LOCK": (14, "lock memory"),
    "CAP_IPC_OWNER": (15, "bypass System V IPC permission checks"),
    "CAP_SYS_MODULE": (16, "load and unload kernel modules"),
    "CAP_SYS_RAWIO": (17, "raw I/O port and device access"),
    "CAP_SYS_CHROOT": (18, "call chroot (and so escape a nested chroot)"),
    "CAP_SYS_PTRACE": (19, "trace and inspect any process"),
    "CAP_SYS_PACCT": (20, "switch process accounting"),
    "CAP_SYS_ADMIN": (21, "mount, namespaces and many other admin operations"),
    "CAP_SYS_BOOT": (22, "reboot and load a new kernel"),
    "CAP_SYS_NICE": (23, "raise priority and change scheduling of any process"),
    "CAP_SYS_RESOURCE": (24, "override resource limits and quotas"),
    "CAP_SYS_TIME": (25, "set the system clock"),
    "CAP_SYS_TTY_CONFIG": (26, "configure and hang up terminals"),
    "CAP_MKNOD": (27, "create device nodes"),
    "CAP_LEASE": (28, "take file leases"),
    "CAP_AUDIT_WRITE": (29, "write to the kernel audit log"),
    "CAP_AUDIT_CONTROL": (30, "configure kernel auditing"),
    "CAP_SETFCAP": (31, "set file capabilities"),
    "CAP_MAC_OVERRIDE": (32, "override mandatory access control"),
    "CAP_MAC_ADMIN": (33, "configure mandatory access control"),
    "CAP_SYSLOG": (34, "privileged syslog operations"),
    "CAP_WAKE_ALARM": (35, "set alarms that wake the system"),
    "CAP_BLOCK_SUSPEND": (36, "block system suspend"),
    "CAP_AUDIT_READ": (37, "read the audit log over netlink"),
    "CAP_PERFMON": (38, "use performance monitoring"),
    "CAP_BPF": (39, "use privileged BPF operations"),
    "CAP_CHECKPOINT_RESTORE": (40, "checkpoint and restore processes"),
}
BY_BIT: dict[int, str] = {bit: name for name, (bit, _) in CAPABILITIES.items()}


def normalise_capability(text: str) -> str | None:
    """`cap_net_admin`, `CAP_NET_ADMIN` and `net_admin` → `CAP_NET_ADMIN`; None if unknown."""
    name = text.strip().upper()
    if not name.startswith("CAP_"):
        name = "CAP_" + name
    return name if name in CAPABILITIES else None


def decode_mask(mask: int) -> frozenset[str]:
    """A capability mask (as in /proc/<pid>/status) → the names of the bits it holds."""
    return frozenset(name for bit, name in BY_BIT.items() if mask >> bit & 1)


def encode_mask(names: frozenset[str] | set[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITIES[name][0]
    return mask


def capsh_name(name: str) -> str:
    """`CAP_NET_ADMIN` → `cap_net_admin`, the form capsh takes."""
    return name.lower()
