"""Uploads: a size limit per request and per file, allowed types checked by name and by content, and the
sender's file name kept only as a label, never as a path.

`BodyLimit` stops a request body at the limit while it streams in (413), before anything is parsed or
stored. `spooled(...)` checks every file of a request first and writes each to a private temporary
file; only then does the route call the store, inside its transaction. A rejected upload therefore
stores nothing: no blob, no row.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile  # FastAPI's UploadFile's base, what request.form() gives
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..usecases.filings import Uploads
from ..usecases.services import UploadLimits
from .errors import ApiError


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413, by Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        started = over = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if over:  # the app caught the cut-off body and answered it itself (FastAPI: 400 "error parsing the body")
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(scope, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        import json

        mb = self.limit // (1024 * 1024)
        message = f"请求过大：一次上传最多 {mb} MB (request too large: at most {mb} MB per request)"
        body = json.dumps({"error": {"status": 413, "code": "too_large", "message": message,
                                     "fields": [{"field": "files", "message": message}]}}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def safe_name(raw: str | None) -> str:
    """A label for the sender's file name: its last path component, printable, at most 120 characters."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110] + dot + ext[:9]) if dot and len(ext) < 10 else name[:120]
    return name or "file"


def suffix_of(name: str) -> str:
    return os.path.splitext(name)[1].lower()


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc .xls .wps .et
_ZIP = b"PK\x03\x04"  # .docx .xlsx .ofd .zip
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",), ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".doc": (_OLE,), ".xls": (_OLE,), ".wps": (_OLE,), ".et": (_OLE,),
    ".docx": (_ZIP,), ".xlsx": (_ZIP,), ".ofd": (_ZIP,), ".zip": (_ZIP,),
}
TEXT = {".csv", ".txt", ".json"}


def _looks_like(suffix: str, head: bytes) -> bool:
    if suffix in TEXT:
        if b"\x00" in head:
            return False
        for codec in ("utf-8", "gb18030"):
            try:
                head.decode(codec)
                return True
            except UnicodeDecodeError as exc:
                if exc.start >= len(head) - 4:  # a character cut at the end of the sample
                    return True
        return False
    return any(head.startswith(m) for m in MAGIC.get(suffix, ()))


@dataclass(frozen=True)
class Spooled:
    """A checked upload: in memory (`data`), or, for a rows file that a reader opens by path, in `path`."""

    name: str
    size: int
    data: bytes | None = None
    path: Path | None = None


def _check(upload: UploadFile, field: str, allowed: frozenset[str], limits: UploadLimits) -> tuple[str, str]:
    name = safe_name(upload.filename)
    suffix = suffix_of(name)
    if suffix not in allowed:
        kinds = " ".join(sorted(allowed))
        raise ApiError(415, "unsupported_type", f"文件 '{name}' 的类型不允许；允许: {kinds} "
                                                f"(file type not allowed; allowed: {kinds})", field)
    return name, suffix


@contextmanager
def spooled(uploads: Sequence[tuple[str, UploadFile]], limits: UploadLimits,
            rows_fields: frozenset[str] = frozenset()) -> Iterator[dict[str, list[Spooled]]]:
    """Check a request's files: {field: [Spooled]}. Rows files are written to a private temporary file (the
    readers open a path) that goes when the block ends; the others stay in memory until stored by hash."""
    real = [(f, u) for f, u in uploads if u is not None and (u.filename or u.size)]
    if len(real) > limits.files:
        raise ApiError(422, "too_many_files", f"一次最多上传 {limits.files} 个文件 (at most {limits.files} files)", "files")
    work: Path | None = None
    try:
        out: dict[str, list[Spooled]] = {}
        for n, (field, upload) in enumerate(real):
            allowed = limits.rows_suffixes if field in rows_fields else limits.suffixes
            name, suffix = _check(upload, field, allowed, limits)
            data = _read(upload, name, field, limits)
            if not data:
                raise ApiError(422, "empty_file", f"文件 '{name}' 是空的 (the file is empty)", field)
            if not _looks_like(suffix, data[:512]):
                raise ApiError(415, "content_mismatch", f"文件 '{name}' 的内容与扩展名 {suffix} 不符 "
                                                        f"(the content is not a {suffix} file)", field)
            if field in rows_fields:
                work = work or Path(tempfile.mkdtemp(prefix="campaignflow-upload-"))
                target = work / f"{n}{suffix}"  # our name, the sender's suffix from the allowed set
                target.write_bytes(data)
                out.setdefault(field, []).append(Spooled(name, len(data), path=target))
            else:
                out.setdefault(field, []).append(Spooled(name, len(data), data=data))
        yield out
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _read(upload: UploadFile, name: str, field: str, limits: UploadLimits) -> bytes:
    upload.file.seek(0)
    data = upload.file.read(limits.file_bytes + 1)
    if len(data) > limits.file_bytes:
        mb = limits.file_bytes // (1024 * 1024)
        raise ApiError(413, "file_too_large", f"文件 '{name}' 超过 {mb} MB (the file is larger than {mb} MB)", field)
    return data


def as_pairs(files: list[Spooled]) -> list[tuple[Path | bytes, str]]:
    return [(f.data if f.data is not None else f.path, f.name) for f in files]  # type: ignore[misc]


@contextmanager
def filing_uploads(files: Sequence[UploadFile], rows: UploadFile | None, limits: UploadLimits) -> Iterator[Uploads]:
    """A filing's files and rows file, checked and spooled for `usecases.filings.file_uploads` (which enters
    this only after its scope check, so that a refused unit's uploads are never read)."""
    with spooled([("files", f) for f in files] + ([("rows", rows)] if rows is not None else []), limits,
                 frozenset({"rows"})) as spool:
        r = spool.get("rows", [None])[0]
        yield Uploads(as_pairs(spool.get("files", [])), (r.path, r.name) if r is not None and r.path else None)


@contextmanager
def evidence_uploads(files: Sequence[UploadFile], limits: UploadLimits) -> Iterator[list[tuple[Path | bytes, str]]]:
    """A ledger item's evidence files, checked and spooled for `usecases.ledger.report_progress` (entered only
    after its scope check)."""
    with spooled([("evidence", f) for f in files], limits) as spool:
        yield as_pairs(spool.get("evidence", []))


def form_files(value: Any) -> list[UploadFile]:
    """A form's file field as a list, whether it came as one file, several, or an empty string."""
    if value is None or isinstance(value, str):
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if not isinstance(v, str)]


def attachment(blobs: Any, sha256: str, name: str) -> FileResponse:
    """A stored file, served as an attachment with a neutral type: a filed file never runs in our origin."""
    path = blobs.path(sha256)
    if not path.exists():
        raise ApiError(404, "not_found", "文件内容缺失 (the stored content is missing)")
    return FileResponse(path, filename=name, media_type="application/octet-stream",
                        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


# the kinds a browser may show inside a page: by the file's name and, again, by its first bytes
PREVIEW_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def previewable(blobs: Any, sha256: str, name: str) -> str | None:
    """The media type a stored file is previewed as (PDF, PNG, JPEG: by its name and its first bytes), or None:
    downloaded only."""
    media = PREVIEW_TYPES.get(suffix_of(name))
    path = blobs.path(sha256)
    if media is None or not path.exists():
        return None
    with path.open("rb") as f:
        return media if _looks_like(suffix_of(name), f.read(16)) else None


def inline(blobs: Any, sha256: str, name: str) -> FileResponse:
    """A stored PDF or image to show in a page (`<iframe>`/`<img>` of our own pages only), sandboxed; anything
    else, or a file whose content is not what its name says, is an attachment as `attachment` serves it."""
    media = previewable(blobs, sha256, name)
    if media is None:
        return attachment(blobs, sha256, name)
    return FileResponse(blobs.path(sha256), filename=name, media_type=media, content_disposition_type="inline",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "sandbox; frame-ancestors 'self'",
                                 "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store"})
