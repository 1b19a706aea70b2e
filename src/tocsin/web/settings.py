"""Settings of the web pages (not of the API): map tiles and optional map layers.

Built from the environment by :meth:`WebSettings.from_env`, or by tests, and kept on
``app.state.web_settings`` by :func:`tocsin.web.pages.install`; nothing here is module-global.

- ``TOCSIN_TILE_URL``: a raster tile URL template (``https://host/{z}/{x}/{y}.png`` or a
  same-origin path such as ``/tiles/{z}/{x}/{y}.png``) drawn under the offline basemap when
  there is a connection. Off by default: the shipped Natural Earth outlines need no network.
  Its origin is added to ``img-src`` of the map page's Content-Security-Policy, and nothing
  else is: tiles cannot run scripts.
- ``TOCSIN_TILE_ATTRIBUTION``: the attribution the tile provider requires (shown on the map).
- ``TOCSIN_ADMIN_BOUNDARIES``: a file of administrative boundaries (GeoParquet, GeoPackage,
  GeoJSON or shapefile) to draw as a layer, e.g. an OCHA COD-AB admin-1 file. Not shipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_PLACEHOLDERS = ("{z}", "{x}", "{y}")
_ALLOWED_TEMPLATE = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%{}-]+$")
MAX_TEMPLATE_CHARS = 500


class WebSettingsError(ValueError):
    """A web setting that cannot be used as given."""


@dataclass(frozen=True, slots=True)
class TileSource:
    url_template: str
    attribution: str

    @property
    def origin(self) -> str | None:
        """The scheme://host[:port] to allow in the CSP, or None for a same-origin path."""
        parts = urlsplit(self.url_template)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme else None


def parse_tile_url(template: str, attribution: str = "") -> TileSource:
    """Validates a tile URL template; raises :class:`WebSettingsError` with the reason."""
    template = template.strip()
    if len(template) > MAX_TEMPLATE_CHARS:
        raise WebSettingsError(f"TOCSIN_TILE_URL is longer than {MAX_TEMPLATE_CHARS} characters")
    if not _ALLOWED_TEMPLATE.match(template):
        raise WebSettingsError("TOCSIN_TILE_URL contains characters that are not allowed in a URL")
    missing = [p for p in _PLACEHOLDERS if p not in template]
    if missing:
        raise WebSettingsError(
            f"TOCSIN_TILE_URL must contain {', '.join(_PLACEHOLDERS)}; missing {', '.join(missing)}"
        )
    parts = urlsplit(template)
    if parts.scheme:
        if parts.scheme not in ("https", "http"):
            raise WebSettingsError("TOCSIN_TILE_URL must be an http(s) URL or a path starting /")
        if not parts.netloc or "@" in parts.netloc or "{" in parts.netloc:
            # One fixed host (no {s} sub-domains), so the CSP can name exactly that origin.
            raise WebSettingsError("TOCSIN_TILE_URL needs one plain host name (no user, no {s})")
    elif not template.startswith("/") or template.startswith("//"):
        raise WebSettingsError("TOCSIN_TILE_URL must be an http(s) URL or a path starting /")
    if len(attribution) > 300:
        raise WebSettingsError("TOCSIN_TILE_ATTRIBUTION is longer than 300 characters")
    return TileSource(template, attribution.strip())


@dataclass(frozen=True, slots=True)
class WebSettings:
    tiles: TileSource | None = None
    admin_boundaries: Path | None = None
    # Most incidents one map response carries; above it the response says it was truncated.
    map_max_features: int = 200_000
    # The alerts' trigger file whose protected sites the map draws; None: the alerts module's
    # own default (TOCSIN_ALERTS_CONFIG, else $TOCSIN_HOME/alerts/triggers.yaml).
    alerts_config: Path | None = None

    @classmethod
    def from_env(cls) -> WebSettings:
        tiles = None
        if template := os.environ.get("TOCSIN_TILE_URL", "").strip():
            tiles = parse_tile_url(template, os.environ.get("TOCSIN_TILE_ATTRIBUTION", ""))
        boundaries = None
        if path := os.environ.get("TOCSIN_ADMIN_BOUNDARIES", "").strip():
            boundaries = Path(path)
            if not boundaries.is_file():
                raise WebSettingsError(f"TOCSIN_ADMIN_BOUNDARIES: no such file: {boundaries}")
        return cls(tiles=tiles, admin_boundaries=boundaries)
