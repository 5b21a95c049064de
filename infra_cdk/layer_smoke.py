"""Run by ``build_layers`` under the Lambda's CPython (3.12), standard library only: import
the modules named in ``argv[1]`` (JSON) with exactly the given folders on ``sys.path``, and
load DuckDB's httpfs extension from the ``duckdb-ext-httpfs`` package when asked."""

import importlib
import importlib.util
import json
import sys
from pathlib import Path


def main() -> None:
    request = json.loads(sys.argv[1])
    sys.path[:0] = request["paths"]
    for module in request["modules"]:
        importlib.import_module(module)
    if request.get("duckdb_httpfs"):
        import duckdb

        spec = importlib.util.find_spec("duckdb_ext")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("duckdb_ext is not importable")
        extensions = Path(next(iter(spec.submodule_search_locations))) / "extensions"
        connection = duckdb.connect(
            config={"extension_directory": str(extensions), "autoinstall_known_extensions": False}
        )
        connection.execute("LOAD httpfs")


if __name__ == "__main__":
    main()
