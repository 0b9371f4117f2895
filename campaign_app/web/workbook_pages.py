"""Blank workbooks from the dashboard: `/c/{key}/workbook/units` and `/c/{key}/workbook/{kind}` for each
artifact kind of the campaign filed as rows, linked from the filing form next to the rows-file input."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response

from campaign_model.errors import NotFound
from campaign_model.spec import ArtifactKind

from .deps import Caller, Svc, scoped
from .errors import ApiError
from .page_auth import page_caller

router = APIRouter(include_in_schema=False)


@router.get("/c/{key}/workbook/{kind}")
def blank_workbook_page(key: str, kind: str, svc: Svc, caller: Caller = page_caller("campaign.read")) -> Response:
    from notifications.reports.workbook import MEDIA_TYPE, blank_workbook

    with svc.read() as conn:
        ctx, _ = scoped(conn, key, caller)  # a unit outside the campaign gets the 403 page
    kinds = {k: ArtifactKind.model_validate(v) for k, v in ctx.artifacts.items()}
    try:
        filename, data = blank_workbook(kinds, kind)
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc), "kind") from None
    # the ASCII name for old clients, the Chinese one (RFC 6266) for the rest
    fallback = f"{key}-{kind}.xlsx".encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=MEDIA_TYPE, headers={"Content-Disposition": disposition})
