"""The web console's files, served by the local gateway as S3 + CloudFront serve them deployed.

Browser navigations that no API route claims get the single-page app's shell, and so does
any request for a linked route (``/r/<shortId>``, the share viewer); its hashed assets are
cacheable forever; ``/docs`` is the API reference page. Only the viewer's ``/embed`` may be
framed by other sites.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

_HTML_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
_ASSET_CACHE = "public, max-age=31536000, immutable"
_NOT_BUILT = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>MoleSignal</title>"
    b"<main><h1>The console is not built</h1><p>Run <code>make console</code> (make dev does it when the build "
    b"is missing) and reload. The API answers as usual; its reference is at <a href=/openapi.json>/openapi.json</a>."
    b"</p></main></html>"
)

Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class ConsoleFiles:
    root: Path
    site: Any  # registry.StaticSite
    api_prefixes: tuple[str, ...]

    def claims(self, method: str, path: str, accept: str) -> bool:
        """Whether this request is the console's rather than the API's ``$default`` route."""
        if method not in ("GET", "HEAD") or self._under_api(path):
            return False
        if path.startswith(self.site.assets_prefix) or path in dict(self.site.pages) or path == "/":
            return True
        if any(path.startswith(route) for route in self.site.linked_routes):
            return True
        return "text/html" in accept

    def respond(self, path: str) -> Response:
        pages = dict(self.site.pages)
        if path.startswith(self.site.assets_prefix):
            return self._asset(path)
        name = pages.get(path.rstrip("/") or "/", self.site.index)
        target = self.root / name
        headers = {
            **_HTML_HEADERS,
            "content-security-policy": self.site.content_security_policy(
                framable=fnmatchcase(path, self.site.framable)
            ),
        }
        if not target.is_file():
            return 503, headers, _NOT_BUILT
        return 200, headers, target.read_bytes()

    def _asset(self, path: str) -> Response:
        relative = path[len(self.site.assets_prefix) :]
        base = (self.root / self.site.assets_prefix.strip("/")).resolve()
        target = (base / relative).resolve()
        if not relative or not target.is_relative_to(base) or not target.is_file():
            return 404, {"content-type": "text/plain; charset=utf-8"}, b"not found"
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "text/javascript"):
            content_type += "; charset=utf-8"
        headers = {"content-type": content_type, "cache-control": _ASSET_CACHE, "x-content-type-options": "nosniff"}
        return 200, headers, target.read_bytes()

    def _under_api(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in self.api_prefixes)
