from typing import Any

from ingest_api.routes import es_router, router
from molesignal.web.app import create_app

app = create_app("MoleSignal ingest", [router, es_router])


class ElasticProductHeader:
    """Elasticsearch clients refuse any answer without this header — errors included."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api/v1/es"):
            await self.inner(scope, receive, send)
            return

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-elastic-product"]
                message = {**message, "headers": [*headers, (b"x-elastic-product", b"Elasticsearch")]}
            await send(message)

        await self.inner(scope, receive, send_with_header)


app.add_middleware(ElasticProductHeader)
