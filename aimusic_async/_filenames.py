"""Safe file names from untrusted text (clip titles, URL paths): one path component that stays
inside its folder on POSIX and Windows, whatever the text holds. Pure: no file system access."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from ._constants import FILENAME_CLEAN_CACHE, FILENAME_MAX

__all__ = ["clip_filename", "numbered", "safe_filename", "url_extension"]

# Characters Windows refuses in names, plus both separators (POSIX only refuses "/" and NUL).
_FORBIDDEN = frozenset('<>:"/\\|?*')
# Device names Windows reserves with any extension ("con.wav" is still the console).
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in "123456789¹²³"}
    | {f"LPT{i}" for i in "123456789¹²³"}
)
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")
_SPACES = re.compile(r"\s+")
_DOTS = re.compile(r"\.{2,}")


def _clean_char(ch: str) -> str:
    if ch in _FORBIDDEN:
        return "_"
    # Cc: control characters (NUL, newline, ESC...). Cf: invisible format characters such as the
    # bidi overrides that make "evil\u202ewav.exe" display as "evilexe.wav". Cs/Co: surrogates
    # and private use, which some file systems refuse. Zl/Zp: line/paragraph separators.
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
        return " "
    return ch


class _CleanTable(dict[int, str]):
    """``str.translate`` table that applies ``_clean_char``, remembering the answer per code
    point: a name costs one C-level lookup per character instead of a Python call and a
    Unicode category lookup. Bounded, so text full of distinct rare characters cannot grow it."""

    def __missing__(self, code: int) -> str:
        cleaned = _clean_char(chr(code))
        if len(self) < FILENAME_CLEAN_CACHE:
            self[code] = cleaned
        return cleaned


_CLEAN = _CleanTable()


def _truncate_utf8(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def safe_filename(name: str, *, max_bytes: int = FILENAME_MAX, default: str = "untitled") -> str:
    """One safe path component made from ``name`` (no extension added).

    No separators, no ``..``, no control or invisible characters, no leading dots (hidden files,
    traversal), no trailing dots or spaces (Windows drops them), no Windows device names, and at
    most ``max_bytes`` bytes of UTF-8. An empty result becomes ``default``.
    """
    # NFKC folds look-alikes such as the fullwidth solidus "／" into "/", which is then removed.
    text = unicodedata.normalize("NFKC", str(name))
    text = text.translate(_CLEAN)
    text = _SPACES.sub(" ", text).strip()
    # No ".." anywhere, not only as a whole component: simpler to audit, and costs an ellipsis.
    text = _DOTS.sub(".", text)
    text = text.lstrip(". ").rstrip(". ")
    text = _truncate_utf8(text, max_bytes).rstrip(". ")
    if not text:
        text = default
    stem = text.split(".", 1)[0].rstrip(" ").upper()
    if stem in _RESERVED:
        text = _truncate_utf8("_" + text, max_bytes)
    return text


def url_extension(url: str, default: str = ".mp3") -> str:
    """The file extension of a URL's path (``.wav`` for ``.../x.wav?sig=1``), else ``default``.

    Only short alphanumeric extensions are trusted; anything else falls back to the default.
    """
    path = unquote(urlsplit(url).path)
    last = path.rsplit("/", 1)[-1]
    dot = last.rfind(".")
    if dot > 0:
        ext = last[dot:]
        if _EXTENSION.fullmatch(ext):
            return ext.lower()
    return default


def clip_filename(title: str | None, clip_id: str, extension: str) -> str:
    """``"<title> [<clip id>].<ext>"``: readable, and unique per clip because of the id."""
    ext = extension if _EXTENSION.fullmatch(extension) else ".mp3"
    ident = safe_filename(clip_id, max_bytes=64, default="clip")
    # Room for " [id]" and the extension inside the overall bound.
    room = max(8, FILENAME_MAX - len(ident.encode()) - len(ext) - 3)
    head = safe_filename(title or "", max_bytes=room, default="")
    base = f"{head} [{ident}]" if head else ident
    return base + ext


def numbered(filename: str, n: int) -> str:
    """``"song.wav"`` -> ``"song (n).wav"``, keeping the whole name inside FILENAME_MAX."""
    if n < 2:
        return filename
    dot = filename.rfind(".")
    stem, ext = (filename[:dot], filename[dot:]) if dot > 0 else (filename, "")
    suffix = f" ({n})"
    stem = _truncate_utf8(stem, FILENAME_MAX - len(suffix) - len(ext.encode())).rstrip(". ")
    return f"{stem}{suffix}{ext}"
