"""A throwaway system root with a realistic /etc, for `tui-jail --sandbox` and for the tests.

It has what the four presets read: Debian's fstab and sshd_config (with its
`Include /etc/ssh/sshd_config.d/*.conf`), host keys, users for the seedbox and the agent, staging
dirs under /tank, an /opt with a joblet tree, and small /usr, /bin, /lib trees. Nothing outside
the directory it is given is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SANDBOX_USERS = {"media": 1001, "agent": 1002}

FSTAB = """\
# /etc/fstab: static file system information.
#
# Use 'blkid' to print the universally unique identifier for a
# device; this may be used with UUID= as a more robust way to name devices
# that works even if disks are added and removed. See fstab(5).
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
# / was on /dev/sda1 during installation
UUID=0b7a3c2e-5c1e-4a47-9a0c-8e1f3d2c4b5a /               ext4    errors=remount-ro 0       1
# /boot/efi was on /dev/sda15 during installation
UUID=4C2D-1A2B  /boot/efi       vfat    umask=0077      0       1
# the media pool
tank            /tank           zfs     defaults,nofail 0       0
/swapfile       none            swap    sw              0       0
"""

SSHD_CONFIG = """\

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#ListenAddress ::

#PermitRootLogin prohibit-password
#PubkeyAuthentication yes

# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

UsePAM yes

#AllowAgentForwarding yes
#AllowTcpForwarding yes
X11Forwarding yes
PrintMotd no

# Allow client to pass locale environment variables
AcceptEnv LANG LC_*

# override default of no subsystems
Subsystem	sftp	/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#	X11Forwarding no
#	AllowTcpForwarding no
#	PermitTTY no
#	ForceCommand cvs server
"""

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sshd:x:102:65534::/run/sshd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
media:x:1001:1001:Media,,,:/home/media:/usr/sbin/nologin
agent:x:1002:1002:Agent,,,:/home/agent:/bin/bash
"""
GROUP = """\
root:x:0:
daemon:x:1:
nogroup:x:65534:
media:x:1001:
agent:x:1002:
"""
SHADOW = """\
root:*:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
sshd:*:19700:0:99999:7:::
nobody:*:19700:0:99999:7:::
media:*:19700:0:99999:7:::
agent:*:19700:0:99999:7:::
"""


# the seedbox's public key (its private half was never kept): the jailed user can log in with a key
SEEDBOX_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID5dXUiNAlErnWjwDgQwy5wgS9pdjREeFFnncAG2SSsS seedbox (sandbox sample)\n"
)
NOLOGIN = '#!/bin/sh\necho "This account is currently not available."\nexit 1\n'


def make_sandbox_root(root: Path, *, host_keys: bool = True) -> Path:
    """Fill `root` (created if missing) with the sample system. Returns root.

    Written with plain file calls, not the path layer: `root` is a fresh temporary directory that this
    process alone created and owns, so no other user can plant or swap anything in it meanwhile."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    files = {
        "etc/fstab": FSTAB,
        "etc/ssh/sshd_config": SSHD_CONFIG,
        "etc/passwd": PASSWD,
        "etc/group": GROUP,
        "etc/shadow": SHADOW,
        "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
        "etc/resolv.conf": "nameserver 192.0.2.53\n",
        "etc/ssl/certs/README": "sample certificate store\n",
        "etc/ca-certificates/update.d/README": "sample\n",
        "usr/bin/README": "sample /usr/bin\n",
        "usr/sbin/README": "sample /usr/sbin\n",
        "usr/sbin/nologin": NOLOGIN,
        "usr/lib/README": "sample /usr/lib\n",
        "bin/README": "sample /bin\n",
        "sbin/README": "sample /sbin\n",
        "lib/README": "sample /lib\n",
        "lib64/README": "sample /lib64\n",
        "opt/hostedtoolcache/README": "tool cache\n",
        "opt/vendor-tool/README": "another /opt entry\n",
        "opt/joblet/config/joblet.yml": "# joblet's own config: never visible to a builder\n",
        "opt/joblet/runtimes/README": "runtimes are installed here\n",
        "opt/joblet/jobs/README": "other jobs run here\n",
        "var/log/README": "logs\n",
        "home/agent/.profile": "# agent's profile\n",
        "home/media/.profile": "# media's profile\n",
        "home/media/.ssh/authorized_keys": SEEDBOX_KEY,
        "root/.profile": "# root's profile\n",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    (root / "etc/ssh/sshd_config.d").mkdir(exist_ok=True)
    os.chmod(root / "etc/shadow", 0o640)
    for name in ("tmp", "var/tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
        os.chmod(root / name, 0o1777)
    os.chmod(root / "usr/sbin/nologin", 0o755)
    for user, uid in SANDBOX_USERS.items():
        os.chown(root / "home" / user, uid, uid)
    os.chown(root / "home/media/.ssh", SANDBOX_USERS["media"], SANDBOX_USERS["media"])
    os.chmod(root / "home/media/.ssh", 0o700)
    for staging in ("incomingmovies", "IncomingMovies_staging", "IncomingTV", "IncomingTV_staging"):
        path = root / "tank" / staging
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, SANDBOX_USERS["media"], SANDBOX_USERS["media"])
    if host_keys and shutil.which("ssh-keygen"):
        # sshd -t refuses a config without host keys; -A writes the missing ones under -f's root
        subprocess.run(["ssh-keygen", "-A", "-f", str(root)], check=True, capture_output=True)
    return root


HOST_BINARIES = ("usr", "bin", "sbin", "lib", "lib64")


def bind_host_binaries(root: Path) -> None:
    """Bind the host's real /usr, /bin, /sbin, /lib and /lib64 read-only over the sample dirs, so exec
    jails have programs to run. Only in a private mount namespace (the sandbox wizard runs in one)."""
    for name in HOST_BINARIES:
        source = os.path.realpath(f"/{name}")
        if os.path.isdir(source):
            (root / name).mkdir(exist_ok=True)
            subprocess.run(["mount", "-o", "bind,ro", source, str(root / name)], check=True, capture_output=True)


def new_sandbox() -> Path:
    """A fresh sandbox in a new temporary directory (the caller decides when to delete it)."""
    return make_sandbox_root(Path(tempfile.mkdtemp(prefix="tui-jail-sandbox-")))
