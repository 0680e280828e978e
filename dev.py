#!/usr/bin/env python3
"""The two Quickstart commands, on a fresh machine with only Python 3.11+.

    python3 dev.py demo     # create .venv, install citybrain, run `citybrain demo`
    python3 dev.py test     # create .venv, install citybrain[test], run pytest (args pass through)

The virtual environment lives in .venv and is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"citybrain needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not (BIN / "python").exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / ".citybrain-installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing citybrain[{extras}] into .venv …", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f".[{extras}]"], check=True, cwd=ROOT)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_env("test")
    if command == "demo":
        return subprocess.call([str(BIN / "citybrain"), "demo", *rest], cwd=ROOT)
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
