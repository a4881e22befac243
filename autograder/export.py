"""The written answers as a PDF, added to the student's export zip for manual grading.

Shipped next to the student notebook as ``dlmath_export.py``; the notebook's export
cell calls :func:`add_written_pdf` after otter's own export.  The PDF is made without
LaTeX: the written questions (prompt and answer cells, between otter's ``BEGIN
QUESTION`` and ``END QUESTION`` markers) become one HTML page, which a headless
Chromium prints.  It depends on the standard library only (nbconvert renders the
Markdown when it is installed, as it is wherever otter is).
"""

from __future__ import annotations

import glob
import html
import json
import os
import shutil
import subprocess
import tempfile
import zipfile

BEGIN, END = "<!-- BEGIN QUESTION -->", "<!-- END QUESTION -->"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def written_cells(nb: dict) -> list[dict]:
    """The cells of every written question: from its prompt (``BEGIN QUESTION``) to its end marker."""
    out, inside = [], False
    for cell in nb.get("cells", []):
        source = _source(cell)
        if END in source:
            inside = False
        if BEGIN in source:
            inside = True
            cell = {**cell, "source": source.split(BEGIN, 1)[1]}
        if inside:
            out.append(cell)
    return out


def written_html(nb: dict, title: str) -> str:
    cells = written_cells(nb)
    try:  # nbconvert (installed with otter) renders Markdown, attachments and outputs
        import nbformat
        from nbconvert import HTMLExporter

        small = nbformat.from_dict({**nb, "cells": cells})
        body, _ = HTMLExporter(template_name="basic").from_notebook_node(small)
    except Exception:  # noqa: BLE001  (no nbconvert, or a cell it cannot read: plain text still grades)
        body = "\n".join(f"<pre>{html.escape(_source(c))}</pre>" for c in cells)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            "<style>body { font-family: sans-serif; margin: 2em; } img { max-width: 100%; }"
            f"pre {{ white-space: pre-wrap; }}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def written_pdf(notebook: str, pdf: str, *, timeout: float = 120) -> str | None:
    """Print the notebook's written answers to ``pdf``; ``None`` on success, else why not."""
    chrome = browser()
    if chrome is None:
        return "no Chromium or Chrome was found on this computer"
    with open(notebook, encoding="utf-8") as f:
        nb = json.load(f)
    with tempfile.TemporaryDirectory(prefix="written-pdf-") as tmp:
        page = os.path.join(tmp, "written.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(written_html(nb, f"Written answers — {os.path.basename(notebook)}"))
        cmd = [chrome, "--headless", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp}/profile",
               "--no-pdf-header-footer", f"--print-to-pdf={os.path.abspath(pdf)}", "file://" + page]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(2, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Chromium failed ({type(exc).__name__})"
    return None if os.path.exists(pdf) and os.path.getsize(pdf) > 0 else "Chromium made no PDF"


def add_written_pdf(notebook: str) -> str | None:
    """Add ``<name>_written.pdf`` to the newest export zip of ``notebook`` (made by ``grader.export``)."""
    stem = os.path.splitext(os.path.basename(notebook))[0]
    zips = sorted(glob.glob(f"{stem}_*.zip"), key=os.path.getmtime)
    if not zips:
        print("No export zip was found: run the export above first.")
        return None
    pdf = f"{stem}_written.pdf"
    problem = written_pdf(notebook, pdf)
    if problem:
        print(f"The PDF of your written answers was not made ({problem}); your zip is complete without it.")
        return None
    with zipfile.ZipFile(zips[-1], "a") as zf:
        if pdf not in zf.namelist():
            zf.write(pdf, pdf)
    print(f"Added {pdf} (your written answers) to {zips[-1]}.")
    return zips[-1]
