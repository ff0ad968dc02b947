"""The API reference pages (Swagger UI, ReDoc) with their assets served by the app itself.

Litestar's render plugins load Swagger UI and ReDoc from public CDNs by default (ReDoc
pinned to `latest`), so the pages are blank on a machine without internet and change
under us when a CDN release does. The assets are vendored here at pinned versions
(`docs_assets/VERSIONS`, with their licences) and served from `/api/docs-assets/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

ASSETS_DIR: Final = Path(__file__).parent / "docs_assets"
ASSETS_PATH: Final = "/api/docs-assets"
_FAVICON: Final = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at /api/docs and ReDoc at /api/redoc, every asset from this app."""
    return [
        SwaggerRenderPlugin(
            path="/docs",
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            favicon=_FAVICON,
        ),
        RedocRenderPlugin(
            path="/redoc",
            js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            google_fonts=False,
            favicon=_FAVICON,
        ),
    ]


def assets_router() -> Router:
    """Static files for the reference pages (public, cached for a day)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86_400, public=True),
    )
