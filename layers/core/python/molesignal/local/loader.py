"""Imports function handlers named like ``auth_api.handler.lambda_handler``, once each."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]

_loaded: dict[str, Handler] = {}
_lock = threading.Lock()


def load_handler(dotted: str) -> Handler:
    found = _loaded.get(dotted)
    if found is not None:
        return found
    with _lock:
        if dotted not in _loaded:
            module_name, _, attribute = dotted.rpartition(".")
            _loaded[dotted] = getattr(importlib.import_module(module_name), attribute)
        return _loaded[dotted]
