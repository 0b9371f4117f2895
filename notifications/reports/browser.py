"""PDF and PNG by headless Chromium (the Debian package `chromium`): the HTML page prints to PDF
exactly as a browser prints it, and the SVG chart becomes a PNG by a screenshot, so no PDF or
plotting library is needed. Chinese text needs a CJK font (Debian: fonts-noto-cjk).

Each run gets its own throw-away profile directory: runs never share or leave state, and two
reports rendered at once do not fight over a profile lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from campaign_model.errors import InvalidInput

from .chart import HEIGHT, WIDTH

TIMEOUT = 120
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-extensions", "--hide-scrollbars"]


def chromium() -> str:
    """The browser: $CAMPAIGN_CHROMIUM, else chromium on the PATH, else /usr/bin/chromium."""
    for candidate in (os.environ.get("CAMPAIGN_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise InvalidInput("生成 PDF/PNG 需要 Chromium 浏览器：请安装 chromium（apt-get install chromium fonts-noto-cjk）"
                       "或设置 CAMPAIGN_CHROMIUM (PDF and PNG need Chromium: install the chromium package "
                       "or set CAMPAIGN_CHROMIUM)")


def _run(args: list[str], out: Path) -> None:
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="campaign-chromium-") as profile:
        try:
            result = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                                    text=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise InvalidInput(f"Chromium 在 {TIMEOUT} 秒内未完成 (Chromium did not finish in {TIMEOUT} s)") from None
    if result.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        # Chromium logs harmless D-Bus noise on stderr; only the tail tells what failed
        tail = "\n".join(result.stderr.strip().splitlines()[-3:])
        raise InvalidInput(f"Chromium 未能生成 '{out}' (Chromium could not write the file; exit {result.returncode}): {tail}")


def html_to_pdf(html_file: Path, pdf: Path) -> None:
    pdf = Path(pdf).resolve()
    pdf.unlink(missing_ok=True)  # so that a stale file cannot pass for a fresh one
    _run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", Path(html_file).resolve().as_uri()], pdf)


def svg_to_png(svg_file: Path, png: Path) -> None:
    png = Path(png).resolve()
    png.unlink(missing_ok=True)
    _run([f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", "--default-background-color=ffffffff",
          Path(svg_file).resolve().as_uri()], png)
