"""The workspace application: one FastAPI app with the pages (qa.web.pages) and the JSON API (qa.web.api).

Everything is served from the package (templates, the scorecard's script,
the workspace's own script and CSS), so the app works with no internet. The
OpenAPI schema is at /openapi.json and a plain page describing it at /docs
(FastAPI's Swagger page would load its script from a CDN).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from qa.common.paths import cache_dir
from qa.errors import CallqaError
from qa.reports.scorecard_html import TEMPLATE_DIR as SCORECARD_TEMPLATES
from qa.reports.text import clock
from qa.store.database import Store
from qa.store.workspace import WorkspaceStore
from .access import LoginRequired, status_of
from .settings import WebSettings, load_settings

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

#: Same-origin everything; inline styles only (the scorecard template's); no inline script.
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(HERE / "templates"), str(SCORECARD_TEMPLATES)]),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    from qa.reports.coaching_html import template_filters

    env.filters.update({k: v for k, v in template_filters().items() if k in ("pct", "num", "mmss", "signed")})
    return env


def create_app(store: Store | str | None = None, *, secure_cookies: bool = False,
               audio_roots: list[Path] | None = None, settings: WebSettings | None = None,
               audio_cache: Path | None = None) -> FastAPI:
    """The app over a store (an open ``Store``, a URL, or None for the default SQLite store).

    ``audio_cache``: where the masked copies of recordings are kept (default: the cache dir's
    ``redacted-audio``).
    """
    from . import api, calibration, pages

    opened = store if isinstance(store, Store) else Store.open(store)
    app = FastAPI(title="callqa reviewer workspace", version="1",
                  description="Calls, scorecards, reviewer verdicts and appeals. Sign in with POST /api/login; "
                              "send the CSRF token it returns in the X-CSRF-Token header of every POST.",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.ws = WorkspaceStore(opened)
    app.state.settings = settings or load_settings()
    app.state.secure_cookies = secure_cookies
    app.state.audio_roots = [Path(r) for r in audio_roots] if audio_roots else None
    app.state.audio_cache = Path(audio_cache) if audio_cache else cache_dir() / "redacted-audio"
    app.state.templates = templates()

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith(("/api/", "/calls", "/disputes", "/audit", "/coaching", "/calibration")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(CallqaError)
    async def refused(request: Request, exc: CallqaError) -> Response:
        status = status_of(exc)
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=status)
        if isinstance(exc, LoginRequired):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import urlencode

            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return pages.error_page(request, status, exc)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/static-scorecard.js", include_in_schema=False)
    def scorecard_script() -> FileResponse:
        return FileResponse(SCORECARD_TEMPLATES / "scorecard.js", media_type="text/javascript")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        return pages.render(request, "docs.html.j2", schema=app.openapi())

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api.router)
    app.include_router(calibration.api_router)
    app.include_router(pages.router)
    app.include_router(calibration.router)
    return app
