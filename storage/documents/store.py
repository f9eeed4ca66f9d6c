"""Files kept on disk under their SHA-256, outside any web-served folder.

Writing is idempotent (same bytes, same name), so a transaction that rolls back after the
write leaves at worst an unreferenced file, never a row pointing at nothing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size_bytes: int


class TooLarge(ValueError):
    """The stream ran past the size allowed: nothing was kept."""


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredFile:
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with tempfile.NamedTemporaryFile(dir=self.root, delete=False) as tmp:
            try:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(f"more than {max_bytes} bytes")
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                Path(tmp.name).unlink(missing_ok=True)
                raise
        target = self.path_for(digest.hexdigest())
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp.name, target)
        return StoredFile(sha256=digest.hexdigest(), size_bytes=size)

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256
