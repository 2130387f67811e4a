"""Text to speak, read from files: plain text, Markdown, subtitles, Word and PDF.

:func:`read_text_file` returns what a person would read aloud from the file, with
paragraphs separated by a blank line (``urvc speak`` pauses there): Markdown without its
markup, subtitles without their cue numbers, timings and tags, a Word document's
paragraphs, a PDF's text layer. Each format is read by the library made for it
(markdown-it-py, srt, webvtt-py, python-docx, pypdf). A file that can't be read is one
:class:`~urvc_core.errors.UrvcError` that names it and says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from urvc_core.errors import UrvcError

__all__ = ["TEXT_FILE_SUFFIXES", "read_text_file"]


def _read_plain(path: Path) -> str:
    return _decode(path)


def _read_markdown(path: Path) -> str:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(_decode(path))
    paragraphs: list[str] = []
    for token in tokens:
        # Headings, paragraphs and list items hold "inline" tokens; code blocks don't
        # and are left out. Their children's text drops the markup, links keep their words.
        if token.type == "inline":
            paragraphs.append("".join(_markdown_words(child) for child in token.children or []))
    return "\n\n".join(p for p in paragraphs if p.strip())


def _markdown_words(token: Any) -> str:
    if token.type in {"text", "code_inline"}:
        return str(token.content)
    return " " if token.type in {"softbreak", "hardbreak"} else ""


def _read_srt(path: Path) -> str:
    import srt

    try:
        cues = list(srt.parse(_decode(path)))
    except (srt.SRTParseError, ValueError) as exc:
        raise UrvcError(f"{path} is not a readable SubRip (.srt) file: {exc}.") from None
    return "\n\n".join(_without_tags(cue.content) for cue in cues if cue.content.strip())


def _read_vtt(path: Path) -> str:
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        captions = webvtt.from_string(_decode(path))
    except MalformedFileError as exc:
        raise UrvcError(f"{path} is not a readable WebVTT (.vtt) file: {exc}.") from None
    return "\n\n".join(_without_tags(c.text) for c in captions.captions if c.text.strip())


def _read_docx(path: Path) -> str:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UrvcError(
            f"{path} is not a readable Word document (.docx): {exc or type(exc).__name__}; "
            f"save it again as .docx, or as plain text."
        ) from None
    return "\n\n".join(p.text for p in document.paragraphs if p.text.strip())


def _read_pdf(path: Path) -> str:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UrvcError(f"{path} is a password-protected PDF; save an unprotected copy.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise UrvcError(f"{path} is not a readable PDF: {exc}.") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UrvcError(
            f"{path} has no text layer (a scanned PDF?); run OCR on it first, or give the "
            f"text as a .txt file."
        )
    return text


#: The readers by file suffix; any other suffix is read as plain text.
_READERS: dict[str, Callable[[Path], str]] = {
    ".txt": _read_plain,
    ".text": _read_plain,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".srt": _read_srt,
    ".vtt": _read_vtt,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
}
TEXT_FILE_SUFFIXES: tuple[str, ...] = tuple(_READERS)


def read_text_file(path: str | Path) -> str:
    """The words of a text file to speak, paragraphs separated by a blank line.

    Raises:
        UrvcError: the file is missing, not decodable, or holds no words.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UrvcError(
            f"{path} {'is a folder' if path.is_dir() else 'does not exist'}; give a text "
            f"file ({', '.join(TEXT_FILE_SUFFIXES)})."
        )
    if path.suffix.lower() == ".doc":
        raise UrvcError(f"{path} is an old Word (.doc) file; save it as .docx or plain text.")
    reader = _READERS.get(path.suffix.lower(), _read_plain)
    text = reader(path)
    if not text.strip():
        raise UrvcError(f"{path} holds no text to speak.")
    return text


def _decode(path: Path) -> str:
    """The file as text: UTF-8 (with or without a byte order mark) or UTF-16 with one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UrvcError(f"Can't read {path}: {exc.strerror or exc}.") from None
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UrvcError(
            f"{path} is not UTF-8 text (byte {exc.start} can't be decoded); save it as "
            f"UTF-8, or give a .docx or .pdf."
        ) from None
    if "\x00" in text:
        raise UrvcError(f"{path} is not a text file (it holds binary data); give a text file.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def _without_tags(text: str) -> str:
    """Subtitle text without its markup (``<i>``, ``<v Speaker>``, ``{\\an8}``)."""
    return re.sub(r"\s*\n\s*", " ", _TAG.sub("", text)).strip()
