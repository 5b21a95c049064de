"""Where alert notifications may be sent over HTTP: the one outbound client
(``molesignal.outbound.targets``: URL checks at save and at every send, connections pinned to
the checked address, no redirects) with the alert settings —
``Settings.alert_private_targets_allowed`` (the outbound setting, unless
``alert_allow_private_targets`` overrides it for alerts) decides which private targets are
allowed and ``alert_delivery_timeout_s`` bounds a send — and the alert API's envelope: a refused
URL is a 400 ``invalid_argument``, where the events family answers 422.
"""

from __future__ import annotations

from molesignal.errors import Invalid
from molesignal.outbound import targets as outbound
from molesignal.outbound.targets import HttpAnswer, Target, address_problem
from molesignal.settings import get_settings

__all__ = ["HttpAnswer", "Target", "TargetRefused", "address_problem", "parse_target", "post"]


class TargetRefused(Invalid):
    """A destination URL or the address it resolves to is not one MoleSignal may connect to."""

    code = "destination_refused"


def _allowed(allow_private: bool | None) -> bool:
    return get_settings().alert_private_targets_allowed if allow_private is None else allow_private


def parse_target(url: str, *, allow_private: bool | None = None) -> Target:
    try:
        return outbound.parse_target(url, allow_private=_allowed(allow_private))
    except outbound.TargetRefused as exc:
        raise TargetRefused(str(exc)) from exc


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout_s: float | None = None) -> HttpAnswer:
    """POST to the checked address of ``target`` (``outbound.post``); a refused address raises
    this module's ``TargetRefused``, an unreachable receiver ``OSError``."""
    timeout = timeout_s or get_settings().alert_delivery_timeout_s
    try:
        return outbound.post(target, body, headers, timeout_s=timeout, allow_private=_allowed(None))
    except outbound.TargetRefused as exc:
        raise TargetRefused(str(exc)) from exc
