"""The app a streaming function serves behind its Lambda function URL (RESPONSE_STREAM).

The Lambda Web Adapter layer runs ``stream_server.sh``, which starts uvicorn on this factory,
and relays the HTTP answer to the URL's caller chunk by chunk. The function is the registry
function named by ``MOLESIGNAL_STREAM_FUNCTION`` (its code, its app), answering its streaming
routes only (docs/traces.md, "How it is served").
"""

from __future__ import annotations

import importlib
from typing import Any

from molesignal.settings import get_settings
from molesignal.web.function_url import FunctionUrlApp
from registry import REGISTRY


def create_app(function_name: str | None = None) -> FunctionUrlApp:
    function = REGISTRY.http_function(function_name or get_settings().stream_function)
    module_name, _, attribute = function.asgi_app.rpartition(".")
    app: Any = getattr(importlib.import_module(module_name), attribute)
    return FunctionUrlApp(app, function.routes)
