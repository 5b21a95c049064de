"""Vendored wire schemas (``*.proto``) and their generated modules; see scripts/gen_protos.sh."""
