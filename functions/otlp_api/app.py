import json
from typing import Any

from molesignal.otlp.decode import is_protobuf
from molesignal.otlp.response import PROTOBUF_RESPONSE_TYPE, status_body
from molesignal.web.app import create_app
from otlp_api.routes import router

app = create_app("MoleSignal OTLP", [router])


class ProtobufErrors:
    """A refused OTLP protobuf request gets a protobuf ``google.rpc.Status``, as the OTLP
    specification requires of every 4xx/5xx answer to one; JSON requests keep the core
    envelope. The status code and headers (Retry-After, WWW-Authenticate) stay as they are."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if scope.get("method") != "POST" or not is_protobuf(headers.get(b"content-type", b"").decode("latin-1")):
            await self.inner(scope, receive, send)
            return
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    await send(message)
                    return
                started.update(message)
                return
            if not started:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            try:
                envelope = json.loads(b"".join(chunks))
                text = f"{envelope.get('code', 'error')}: {envelope.get('error', '')}"
            except ValueError:
                text = b"".join(chunks).decode("utf-8", "replace")
            body = status_body(started["status"], text)
            kept = [
                (k, v) for k, v in started.get("headers", []) if k.lower() not in (b"content-type", b"content-length")
            ]
            kept += [(b"content-type", PROTOBUF_RESPONSE_TYPE.encode()), (b"content-length", str(len(body)).encode())]
            await send({**started, "headers": kept})
            await send({"type": "http.response.body", "body": body})

        await self.inner(scope, receive, rewrite)


app.add_middleware(ProtobufErrors)
