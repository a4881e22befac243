"""Submission files as untrusted input: finding, opening, hashing, reading and naming them.

Everything about a submission file is chosen by a student who may be hostile: its
name (control characters, terminal escape sequences, bytes that are not UTF-8,
255-byte names, two paths that an older naming scheme mapped to one output file),
its type (a FIFO or a device named ``x.ipynb`` hangs a plain ``open``; a symbolic
link reads a file the grader can see, such as a solution) and its size (a sparse
4 GiB file; a zip entry whose header lies about the size of what it inflates to).
So files are opened without following a final symbolic link and without blocking,
must be regular files, and are read through hard caps; every name shown to a
person goes through :func:`display`, and every file written per submission is
named by :func:`output_name`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_JSON_VALUES = 2_000_000  # commas and brackets, counted on the raw bytes (strings included: an upper bound)
MAX_ZIP_BYTES = 2 * MAX_NOTEBOOK_BYTES  # an export zip holds the notebook and a few small files
MAX_ZIP_ENTRIES = 1000  # entries examined; an export zip has a handful
MAX_CENTRAL_DIRECTORY_BYTES = 2**20  # zipfile parses the whole directory into memory before we see it
CHUNK = 2**20
SUFFIXES = (".ipynb", ".zip")


class InvalidNotebook(Exception):
    """The submission is not a readable Python notebook."""


def find_submissions(paths: list[Path]) -> list[Path]:
    """Notebooks and zips named directly or found (recursively) in folders, sorted.

    Entries found in folders are kept whatever their type (a FIFO, a symbolic link), so
    that each gets a row saying why it was not graded instead of silently vanishing.
    """
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in SUFFIXES
                            and ".ipynb_checkpoints" not in q.parts and not q.is_dir())
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def size_limit(path: Path) -> int:
    return MAX_ZIP_BYTES if path.suffix == ".zip" else MAX_NOTEBOOK_BYTES


def open_submission(path: Path) -> BinaryIO:
    """The submission opened for reading, if it is a regular file; raises ``InvalidNotebook``.

    ``O_NONBLOCK`` keeps a FIFO from hanging the open (a regular file ignores it);
    ``O_NOFOLLOW`` keeps a student's link to another file from being read as theirs.
    """
    mode = os.lstat(path).st_mode  # never open a device: opening some has side effects
    if stat.S_ISLNK(mode):
        raise InvalidNotebook("the submission is a symbolic link; it was not followed")
    if not stat.S_ISREG(mode):
        raise InvalidNotebook("the submission is not a regular file (a FIFO, a device or a folder?)")
    # the checks again on what was opened: the path may have been swapped since lstat
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidNotebook("the submission is not a regular file (a FIFO, a device or a folder?)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(f: BinaryIO, cap: int) -> bytes:
    """At most ``cap`` bytes of ``f``; raises ``InvalidNotebook`` when there are more.

    Reads in chunks: a zip entry inflates chunk by chunk, so a lying size header
    costs at most one chunk beyond the cap.
    """
    chunks, total = [], 0
    while chunk := f.read(CHUNK):
        total += len(chunk)
        if total > cap:
            raise InvalidNotebook(f"the notebook is too large (the limit is {cap // 2**20} MiB)")
        chunks.append(chunk)
    return b"".join(chunks)


def digest(path: Path) -> str:
    """A fingerprint of the file's content, read in chunks and never past its size limit.

    A file over its limit is fingerprinted by size and mtime (it is graded invalid anyway).
    """
    try:
        with open_submission(path) as f:
            st = os.fstat(f.fileno())
            cap = size_limit(path)
            if st.st_size > cap:
                return f"toolarge:{st.st_size}:{st.st_mtime_ns}"
            h = hashlib.sha256()
            read = 0
            while read <= cap and (chunk := f.read(CHUNK)):
                h.update(chunk)
                read += len(chunk)
            return h.hexdigest() if read <= cap else f"toolarge:{read}:{st.st_mtime_ns}"
    except (OSError, InvalidNotebook):
        return "unreadable"


def read_notebook(path: Path) -> dict:
    """The notebook JSON of an ``.ipynb`` file or of the one notebook in an otter export zip."""
    with open_submission(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > size_limit(path):
            what = "zip file" if path.suffix == ".zip" else "notebook"
            raise InvalidNotebook(f"the {what} is too large ({size} bytes; the limit is {size_limit(path) // 2**20} MiB)")
        raw = _zip_notebook(f) if path.suffix == ".zip" else read_capped(f, MAX_NOTEBOOK_BYTES)
    # Parsed JSON can take 20× its bytes (``[],[],…``): bound the number of values before parsing.
    # A real notebook's bulk is strings (sources, base64 images), which hold few of these bytes.
    values = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if values > MAX_JSON_VALUES:
        raise InvalidNotebook(f"the notebook has far too many JSON values ({values}; the limit is {MAX_JSON_VALUES})")
    try:
        nb = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidNotebook(not_json(raw, exc)) from exc
    _validate(nb)
    return nb


def not_json(raw: bytes, exc: BaseException) -> str:
    """Why ``raw`` is no notebook, for a student and a TA: where the JSON breaks, not the parser's words."""
    if not raw.strip():
        return "not a notebook: the file is empty"
    if isinstance(exc, UnicodeDecodeError):
        return f"not a notebook: the file is not UTF-8 text (byte {exc.start + 1} is not)"
    if isinstance(exc, RecursionError):
        return "not a notebook: the file is not valid JSON (it is nested far too deeply)"
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated"):
            return (f"not a notebook: the file is not valid JSON (it is cut off: line {exc.lineno}, "
                    f"column {exc.colno}); was it saved completely?")
        return f"not a notebook: the file is not valid JSON (line {exc.lineno}, column {exc.colno})"
    return "not a notebook: the file is not valid JSON"


def _zip_notebook(f: BinaryIO) -> bytes:
    try:
        _check_central_directory(f)
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()[:MAX_ZIP_ENTRIES]
            names = [i for i in infos if i.filename.endswith(".ipynb") and not i.filename.startswith("__MACOSX")
                     and "/." not in "/" + i.filename and not i.is_dir()]
            if not names:
                raise InvalidNotebook("the zip holds no .ipynb notebook")
            info = min(names, key=lambda i: (i.filename.count("/"), i.filename))
            # bzip2 and lzma inflate a 4 KiB read to gigabytes in one call; export zips use deflate
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise InvalidNotebook("the notebook in the zip uses an unsupported compression method")
            if info.file_size > MAX_NOTEBOOK_BYTES:
                raise InvalidNotebook("the notebook is too large")
            with zf.open(info) as entry:  # the header's size may lie: the cap is on what inflates
                return read_capped(entry, MAX_NOTEBOOK_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError,
            ValueError) as exc:  # RuntimeError: an encrypted entry
        raise InvalidNotebook(f"not a valid zip file: {str(exc)[:100]}") from exc


def _check_central_directory(f: BinaryIO) -> None:
    """Refuse a zip whose central directory is huge, before ``ZipFile`` parses all of it into memory."""
    end = zipfile._EndRecData(f)  # the very record ZipFile itself will trust
    if end is None:
        raise InvalidNotebook("not a valid zip file: no end of central directory")
    if end[zipfile._ECD_SIZE] > MAX_CENTRAL_DIRECTORY_BYTES:
        raise InvalidNotebook("the zip file lists far too many entries")


def _validate(nb: object) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("not a notebook: the file is JSON, but has no list of cells")
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), (str, list)):
            raise InvalidNotebook("a cell of the notebook is malformed")
        if isinstance(cell.get("source"), list) and not all(isinstance(s, str) for s in cell["source"]):
            raise InvalidNotebook("a cell of the notebook is malformed")
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    info = meta.get("language_info") if isinstance(meta.get("language_info"), dict) else {}
    language = str(spec.get("language") or info.get("name") or "python")
    if language.lower() != "python":
        raise InvalidNotebook(f"the notebook's kernel language is {language!r}, not Python")


# Characters never shown raw: controls (C0, DEL, C1: terminal escapes, \r and \n that forge
# lines), format characters (bidi overrides that reorder what is displayed, zero-width ones),
# line and paragraph separators, and the surrogates that stand for bytes that are not UTF-8.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the undecodable byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def display(text: str) -> str:
    """``text`` with every character that could deceive a reader or a terminal escaped.

    A backslash is doubled, so two different names never display alike.
    """
    return printable(text.replace("\\", "\\\\"), keep="")


def printable(text: str, *, keep: str = "\n") -> str:
    """``text`` safe for a terminal or a report: the characters of :func:`display` escaped but for ``keep``.

    Backslashes stay as they are, so text that already went through :func:`display` is unchanged.
    """
    return "".join(_escape_char(ch) if ch not in keep and unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch
                   for ch in text)


def label(path: Path | str) -> str:
    """How a submission path is shown (gradebook, feedback, report, console): the path as given, escaped.

    A label that a spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``) gets ``./`` in front.
    """
    shown = display(str(path))
    return "./" + shown if shown[:1] in ("=", "+", "-", "@") else shown


def output_name(key: str, suffix: str = ".md") -> str:
    """A file name for ``key``'s output (feedback): readable, safe, and unique per path.

    The readable part (the path's components, characters outside ``[A-Za-z0-9._-]``
    replaced, cut to 60) can coincide for two paths; the hash of the raw path bytes
    cannot (in practice), so ``bob__week3.ipynb`` and ``bob/week3.ipynb`` differ.
    """
    path = Path(key)
    parts = [p for p in (*path.parent.parts, path.stem) if p not in ("/", "..", ".", "")]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(parts))[-60:].lstrip("._-") or "submission"
    try:
        raw = os.fsencode(key)
    except UnicodeEncodeError:  # a surrogate that no file system produced (a hand-edited journal)
        raw = key.encode("utf-8", "surrogatepass")
    tag = hashlib.sha256(raw).hexdigest()[:16]
    return f"{stem}-{tag}{suffix}"
