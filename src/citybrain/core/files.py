"""Where uploaded files live: a content-addressed store under ``data_dir/files``.

A file is written to a temporary name, flushed and renamed before its key is returned, so a crash never
leaves a half-written file behind a key that a row refers to. Keys are the SHA-256 of the content, so
the same photo uploaded twice is stored once. Only keys this module produced are ever resolved (no path
from a request reaches the file system).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from citybrain.core.errors import NotFound

_KEY = re.compile(r"^[0-9a-f]{64}\.(jpg|png|pdf|bin)$")


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, *, suffix: str = "jpg") -> str:
        """Store ``data`` durably and return its key (``<sha256>.<suffix>``)."""
        key = f"{hashlib.sha256(data).hexdigest()}.{suffix}"
        if not _KEY.match(key):
            raise ValueError(f"unsupported suffix {suffix!r}")
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return key

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; ``NotFound`` for an unknown or malformed key."""
        if not _KEY.match(key):
            raise NotFound("no such file")
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("no such file") from None

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key


def file_store(settings: object) -> FileStore:
    """The store for these settings (``settings.data_dir / "files"``)."""
    return FileStore(Path(settings.data_dir) / "files")  # type: ignore[attr-defined]
