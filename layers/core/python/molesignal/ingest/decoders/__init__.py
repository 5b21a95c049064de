"""Pure protocol decoders: request bodies of foreign ingest APIs in, plain records out.

One module per protocol (``es_bulk``, ``loki``, ``prometheus``); import the one you need.
Nothing here does I/O, and this package imports nothing heavy (protobuf, cramjam) itself.
"""
