"""Key builders for the single table. Every tenant item's partition starts with its org."""

from __future__ import annotations


def org(org_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", "META"


def org_listing() -> str:
    """gsi1 partition that lists every org (root only)."""
    return "ORGS"


def user(org_id: str, user_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", f"USER#{user_id}"


def user_prefix() -> str:
    return "USER#"


def username(name: str) -> tuple[str, str]:
    """Uniqueness guard: usernames are global so login needs only user + password."""
    return f"USERNAME#{name.lower()}", "USERNAME"


def api_token(prefix: str) -> tuple[str, str]:
    return f"APITOKEN#{prefix}", "APITOKEN"


def api_token_listing(org_id: str) -> str:
    return f"ORG#{org_id}#TOKENS"


def user_token(org_id: str, user_id: str, prefix: str) -> tuple[str, str]:
    """A pointer from a user to one of their API tokens, in the org's partition so that it is
    listed by a strongly consistent query (a GSI is never strongly consistent)."""
    return f"ORG#{org_id}", f"{user_tokens_prefix(user_id)}{prefix}"


def user_tokens_prefix(user_id: str) -> str:
    return f"TOKENOF#{user_id}#"


def refresh_family(family_id: str) -> tuple[str, str]:
    return f"REFRESH#{family_id}", "FAMILY"


def user_sessions(user_id: str) -> str:
    """gsi1 partition listing a user's refresh families (to revoke them all at once)."""
    return f"USER#{user_id}#SESSIONS"


def login_failures(subject: str) -> tuple[str, str]:
    return f"LOGINFAIL#{subject}", "COUNTER"


def quota(org_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", "QUOTA"


def usage(org_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", "USAGE"


def rate_window(org_id: str, kind: str, window: int) -> tuple[str, str]:
    return f"RATE#{org_id}#{kind}", f"W#{window}"


def audit_partition(org_id: str) -> str:
    return f"ORG#{org_id}#AUDIT"


def platform_counters() -> tuple[str, str]:
    return "PLATFORM", "COUNTERS"


def setup_marker() -> tuple[str, str]:
    return "PLATFORM", "SETUP"


# --- alerting (molesignal.alerts) -------------------------------------------------------------
def alert_destinations(org_id: str) -> str:
    return f"ORG#{org_id}#ALERTDEST"


def alert_rules(org_id: str) -> str:
    return f"ORG#{org_id}#ALERTRULE"


def alert_states(org_id: str) -> str:
    """One item per rule and group (sort key ``<source id>#<fingerprint>``)."""
    return f"ORG#{org_id}#ALERTSTATE"


def alert_silences(org_id: str) -> str:
    return f"ORG#{org_id}#ALERTSILENCE"


def alert_history(org_id: str) -> str:
    return f"ORG#{org_id}#ALERTHIST"


def alert_history_of(org_id: str, source_id: str) -> str:
    """gsi1 partition listing one rule's history."""
    return f"ORG#{org_id}#ALERTHIST#{source_id}"


def alert_dead_letters(org_id: str) -> str:
    return f"ORG#{org_id}#ALERTDEAD"


def alert_delivered(org_id: str, notification_id: str, destination_id: str) -> tuple[str, str]:
    """A delivery that succeeded: a redelivered or redriven copy is not sent twice."""
    return f"ALERTSENT#{org_id}#{notification_id}", destination_id


def alert_due_index() -> str:
    """gsi1 partition of enabled scheduled rules, sorted by when they are next due."""
    return "ALERTDUE"


def alert_quiet_index() -> str:
    """gsi1 partition of firing realtime alerts, sorted by when they resolve if nothing matches."""
    return "ALERTQUIET"


def alert_deployment_destinations() -> str:
    """gsi1 partition of the destinations root marked for the deployment's alerts (any org)."""
    return "ALERTDEPLOYDEST"


def alert_platform_checkpoint() -> tuple[str, str]:
    """What the evaluator's last deployment check saw (the worker-failure count)."""
    return "PLATFORM", "ALERTCHECK"
