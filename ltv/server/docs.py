"""``/docs``: Swagger UI over ``/openapi.json``, every asset served by this server.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN (``cdn.jsdelivr.net``) without
subresource integrity, on the page where users paste their API keys. Here the script and the
stylesheet come from the ``swagger-ui-bundle-v2`` PyPI package (Swagger UI's ``dist`` files,
installed with ltv) under ``/docs/assets/``; the initializer is a file too, so the page's CSP
allows scripts from this origin only (no inline script) and no network beyond it. Swagger UI's
online validator badge is off (``validatorUrl: null``) and nothing is kept in the browser.
ReDoc is not served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from ltv.server.errors import NotFoundError

__all__ = ["DOCS_CSP", "router"]

router = APIRouter(include_in_schema=False)

#: Scripts and styles from this origin only; Swagger UI sets inline style attributes.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ltv API — Swagger UI</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head><body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body></html>
"""

_INIT = """"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  persistAuthorization: false,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
});
"""

_MEDIA = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8",
          "favicon-32x32.png": "image/png"}


def _assets() -> Path:
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    return Path(str(swagger_ui_path))


@router.get("/docs")
def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": DOCS_CSP,
                                        "Cache-Control": "no-cache"})


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> Response:
    if name == "init.js":
        return Response(_INIT, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})
    media_type = _MEDIA.get(name)
    if media_type is None:
        raise NotFoundError(f"no docs asset {name[:80]!r}")
    return FileResponse(_assets() / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400"})
