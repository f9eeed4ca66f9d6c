"""What a file is, read from its bytes: the browser's content type and the file's name are
whatever the sender says, so neither decides what is kept or how it is served later.

Only the kinds a partnership swaps as case documents are allowed (PDF, Word and OpenDocument
text, PNG, JPEG, plain text): anything else (HTML, scripts, executables, archives) is
refused before it is stored. A name's extension, when it has one, must agree with the
contents, so a page of HTML cannot arrive dressed as notes.txt's cousin notes.html, nor a
script as photo.jpg.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

HEAD = 8192
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"


@dataclass(frozen=True)
class FileType:
    name: str
    content_type: str
    extensions: tuple[str, ...]


PDF = FileType("a PDF", "application/pdf", (".pdf",))
PNG = FileType("a PNG image", "image/png", (".png",))
JPEG = FileType("a JPEG image", "image/jpeg", (".jpg", ".jpeg"))
DOCX = FileType("a Word document",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                (".docx",))
ODT = FileType("an OpenDocument text", "application/vnd.oasis.opendocument.text", (".odt",))
TEXT = FileType("a plain text file", "text/plain; charset=utf-8", (".txt", ".text", ".csv"))
ALLOWED = (PDF, PNG, JPEG, DOCX, ODT, TEXT)
ALLOWED_TEXT = "a PDF, Word (.docx), OpenDocument (.odt), PNG, JPEG or plain text file"


class Refused(ValueError):
    """The file is not one that may be kept; the message says why, for the person."""


def identify(stream: BinaryIO) -> FileType | None:
    """The allowed type the bytes are, or None. The stream is left at its start."""
    start = stream.tell()
    head = stream.read(HEAD)
    stream.seek(start)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return _office(stream, head, start)
    if _is_text(head):
        return TEXT
    return None


def check(stream: BinaryIO, filename: str) -> FileType:
    """The file's type, or Refused with the reason (not allowed; the name disagrees)."""
    found = identify(stream)
    if found is None:
        raise Refused(f"The file must be {ALLOWED_TEXT}")
    dot = filename.rfind(".")
    extension = filename[dot:].lower() if dot > 0 else ""
    if extension and extension not in found.extensions:
        raise Refused(f"The file is {found.name} but its name ends {extension}: rename it "
                      f"to end {found.extensions[0]}, or choose the right file")
    return found


def _office(stream: BinaryIO, head: bytes, start: int) -> FileType | None:
    """A ZIP is allowed only as a Word or OpenDocument text document (by their markers)."""
    # OpenDocument: the first entry is an uncompressed "mimetype" file naming the type.
    if head[30:38] == b"mimetype" and head[38:38 + len(ODT_MIMETYPE)] == ODT_MIMETYPE:
        return ODT
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    finally:
        stream.seek(start)
    if "[Content_Types].xml" in names and "word/document.xml" in names:
        return DOCX
    return None


def _is_text(head: bytes) -> bool:
    """UTF-8 without control characters other than tab, line breaks and form feed."""
    if not head:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head, final=len(head) < HEAD)
    except UnicodeDecodeError:
        return False
    return not any((ord(c) < 32 and c not in "\t\n\r\f") or c == "\x7f" for c in text)
