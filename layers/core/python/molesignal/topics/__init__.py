"""Topics (spec 004): durable, partitioned logs of row changes, read by consumer groups.

``catalog`` holds the topic definitions, ``log`` the messages (dense offsets per partition),
``groups`` the committed offsets, ``publisher`` turns committed row changes into messages,
``consumer`` answers consume and ack. Model and guarantees: docs/topics.md, ADR 0020.
"""
