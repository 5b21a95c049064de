"""Alerting: destinations, realtime and scheduled rules, alert state, silences, history and delivery.

Modules are split by what they import: the delivery worker ships without the data layer, so
nothing it imports may reach pyarrow, DuckDB or sqlglot (``predicate`` and ``scheduled`` do).
"""
