"""``python -m molesignal <command>``: ``dev`` runs the local system (see molesignal.local.dev),
``emulator`` its AWS emulator alone and ``worker`` its ingest worker (the child processes ``dev`` starts);
``openapi`` prints the merged OpenAPI document (the console's API types are generated from it);
``verify-events`` checks an events export and proofs offline; ``sql`` is the SQL shell."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["dev"]:
        from molesignal.local.dev import main as dev

        return dev()
    if argv[:1] == ["emulator"]:
        from molesignal.local.emulator.process import serve

        return serve(argv[1:])
    if argv[:1] == ["worker"]:
        from molesignal.local.worker_process import serve as worker

        return worker(argv[1:])
    if argv[:1] == ["openapi"]:
        import json

        from platform_api import openapi_merge

        sys.stdout.write(json.dumps(openapi_merge.merged(), indent=1, sort_keys=True) + "\n")
        return 0
    if argv[:1] == ["verify-events"]:
        from molesignal.events.offline import main as verify_events

        return verify_events(argv[1:])
    if argv[:1] == ["sql"]:
        from molesignal.sql_shell import main as sql_shell

        return sql_shell(argv[1:])
    sys.stderr.write(
        "usage: python -m molesignal dev | emulator [--port N] [--data-dir D]"
        " | openapi | sql [-c SQL | -f FILE] [--format F]"
        " | verify-events EXPORT [--proof P] [--checkpoints C]\n"
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
