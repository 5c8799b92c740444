"""Commands that need root: run as they are when we are root (CI, these machines), through
``sudo -n`` otherwise, and refused with a message when neither works."""

from __future__ import annotations

import os
import shutil
import subprocess


def is_root() -> bool:
    return os.geteuid() == 0


def as_root(command: list[str]) -> list[str]:
    """``command`` as root: unchanged for root, else through non-interactive sudo."""
    return command if is_root() else ["sudo", "-n", *command]


def can_run_as_root() -> bool:
    """Whether ``as_root`` commands can run without asking anyone for a password."""
    if is_root():
        return True
    sudo = shutil.which("sudo")
    if sudo is None:
        return False
    return subprocess.run([sudo, "-n", "true"], capture_output=True, check=False).returncode == 0  # noqa: S603
