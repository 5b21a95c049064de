"""Build the dependency layers: ``python -m infra_cdk.build_layers`` from the repository root.

Each layer of ``infra_cdk.layers.DEPENDENCY_LAYERS`` is installed into
``layers/deps/<layer>/python`` from the hash-pinned Lambda lock (``requirements/lambda.txt``,
made by ``make lock`` for CPython 3.12 on manylinux x86_64), as Linux wheels for the Lambda
runtime whatever machine runs this: pip takes only prebuilt wheels (``--only-binary=:all:``,
``--require-hashes``, ``--no-deps``: the lock already lists every dependency). No Docker.

Then what no function imports is removed (``SLIM_PATTERNS``: headers, Cython sources, type
stubs, pyarrow's tests and Arrow Flight), shared libraries lose their symbol tables
(``strip --strip-unneeded``, where binutils is installed), and every layer and every
registry function's total (code + core layer + its dependency layers) is measured against
Lambda's 250 MB unzipped limit. Where a CPython 3.12 interpreter is found, each function's
handler is imported with exactly its layers on the path.

The result goes to ``layers/deps/build.json``: ``building`` while it runs, then ``ok``,
``failed`` or ``oversized``. Anything but ``ok`` exits non-zero, and ``cdk synth -c
requireDepsLayer=true`` refuses the layers (``infra_cdk.layers.stale_reason``).

boto3 and botocore are left out by default: the Lambda Python runtime has them, and they
would add ~30 MB unpacked to a limit every function shares. ``--with-boto3`` ships the
pinned versions in the ``base`` layer instead.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra_cdk.config import CORE_LAYER_DIR, DEPS_LAYER_DIR, FUNCTIONS_DIR
from infra_cdk.layers import (
    DEPENDENCY_LAYERS,
    LAMBDA_LOCK,
    LAMBDA_UNZIPPED_LIMIT,
    PLATFORMS,
    PYTHON_VERSION,
    SLIM_PATTERNS,
    FunctionLayers,
    LayerError,
    Status,
    check_attachments,
    fingerprint,
    function_totals,
    layer_dir,
    layer_packages,
    parse_lock,
    registry_functions,
    shared_code_bytes,
    tree_size,
    write_record,
)

log = logging.getLogger("build_layers")
MIB = 1024 * 1024

# (requirements file, target folder): installs exactly the pins listed there.
Installer = Callable[[Path, Path], None]
# The module each layer must make importable, beyond the handlers that use it.
SMOKE_IMPORTS: dict[str, tuple[str, ...]] = {
    "base": ("pydantic", "pydantic_settings", "aws_lambda_powertools", "orjson", "cramjam"),
    "web": ("fastapi", "mangum", "python_multipart", "jwt", "argon2", "cryptography.hazmat.primitives.ciphers.aead"),
    "data": ("pyarrow.parquet", "pyarrow.dataset", "pyarrow.compute", "pyarrow.json", "duckdb", "sqlglot"),
}
SMOKE_SCRIPT = Path(__file__).with_name("layer_smoke.py")
# Pure-Python packages the Lambda runtime provides, linked from this interpreter for the smoke test.
RUNTIME_STANDINS = ("boto3", "botocore", "s3transfer", "dateutil", "six.py", "urllib3")


def pip_command(requirements: Path, target: Path, platforms: Iterable[str] = PLATFORMS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--no-compile",  # Lambda writes no .pyc next to layer files; ship sources only
        "--no-deps",  # the lock lists every dependency; the layer's share of it is given
        "--require-hashes",
        *(arg for platform in platforms for arg in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]


def pip_installer(platforms: Iterable[str]) -> Installer:
    chosen = tuple(platforms)

    def install(requirements: Path, target: Path) -> None:
        subprocess.run(pip_command(requirements, target, chosen), check=True)  # noqa: S603 (fixed argv, our interpreter)

    return install


def slim(target: Path, patterns: Iterable[str] = SLIM_PATTERNS) -> int:
    """Remove what matches ``patterns`` (relative to ``target``); the bytes removed."""
    removed = 0
    for pattern in patterns:
        for found in sorted(target.glob(pattern), key=lambda p: len(p.parts), reverse=True):
            if not found.exists() and not found.is_symlink():
                continue  # inside a folder removed by an earlier match
            if found.is_dir() and not found.is_symlink():
                removed += tree_size(found)[0]
                shutil.rmtree(found)
            else:
                removed += found.lstat().st_size
                found.unlink()
    return removed


def strip_shared_libraries(target: Path, strip: str) -> int:
    """Drop symbol tables from ELF shared libraries (the dynamic symbols stay); the bytes saved.

    DuckDB extensions are left alone: they carry a signature over their bytes.
    """
    before = tree_size(target)[0]
    libraries = [
        path
        for path in target.rglob("*.so*")
        if path.is_file() and not path.is_symlink() and path.read_bytes()[:4] == b"\x7fELF"
    ]
    for chunk in range(0, len(libraries), 50):
        subprocess.run([strip, "--strip-unneeded", *map(str, libraries[chunk : chunk + 50])], check=True)  # noqa: S603
    return before - tree_size(target)[0]


def find_python(version: str = PYTHON_VERSION) -> Path | None:
    """A CPython ``version`` interpreter on this machine (PATH, then pyenv), for the import check."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}*/bin/python{version}")))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            found = subprocess.run(  # noqa: S603 (an interpreter path, fixed arguments)
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0 and found.stdout.strip() == version:
            return Path(candidate)
    return None


def smoke_check(python: Path, deps_dir: Path, functions: Iterable[FunctionLayers]) -> list[str]:
    """Import every handler, and what each of its layers promises, with only its layers on the path."""
    failures: list[str] = []
    purelib = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory() as tmp:
        standins = Path(tmp)
        for name in RUNTIME_STANDINS:
            if (purelib / name).exists():
                (standins / name).symlink_to(purelib / name)
        for function in functions:
            paths = [str(layer_dir(deps_dir, name) / "python") for name in function.layers]
            paths += [str(CORE_LAYER_DIR / "python"), str(FUNCTIONS_DIR), str(standins)]
            modules = [function.handler.rsplit(".", 1)[0]]
            modules += [module for name in function.layers for module in SMOKE_IMPORTS.get(name, ())]
            request = {"paths": paths, "modules": modules, "duckdb_httpfs": "data" in function.layers}
            done = subprocess.run(  # noqa: S603 (our script, our interpreter choice)
                [str(python), "-I", "-B", str(SMOKE_SCRIPT), json.dumps(request)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                failures.append(f"{function.name}: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return failures


@dataclass
class BuildOptions:
    deps_dir: Path = DEPS_LAYER_DIR
    lock: Path = LAMBDA_LOCK
    with_boto3: bool = False
    platforms: tuple[str, ...] = PLATFORMS
    limit: int = LAMBDA_UNZIPPED_LIMIT
    strip: bool = True
    smoke_python: Path | None = None  # None: look for one (find_python)
    smoke: bool = True


def build(options: BuildOptions, install: Installer) -> int:
    """Build every layer; write the record; 0 when everything fits, else 1."""
    lock_text = options.lock.read_text()
    record: dict[str, Any] = {
        "status": "building",
        "message": "a build started and has not finished",
        "fingerprint": fingerprint(lock_text, with_boto3=options.with_boto3, platforms=options.platforms),
        "options": {"with_boto3": options.with_boto3, "platforms": list(options.platforms)},
        "python_version": PYTHON_VERSION,
        "lock": str(options.lock.name),
        "limit_bytes": options.limit,
        "started_at": _now(),
    }
    write_record(options.deps_dir, record)
    functions = registry_functions()
    try:
        check_attachments(functions)
        lock = parse_lock(lock_text)
        shipped = layer_packages(lock, with_boto3=options.with_boto3)
        layers: dict[str, dict[str, Any]] = {}
        strip = shutil.which("strip") if options.strip else None
        if options.strip and strip is None:
            log.warning("no `strip` (binutils) here: shared libraries keep their symbol tables")
        for layer in DEPENDENCY_LAYERS:
            pins = [lock[name] for name in shipped[layer.name]]
            layers[layer.name] = _build_layer(options.deps_dir, layer.name, pins, install, strip)
        record["layers"] = layers
        record["stripped"] = strip is not None
    except (LayerError, OSError, subprocess.CalledProcessError) as error:
        return _fail(options, record, "failed", f"{type(error).__name__}: {error}")

    shared = shared_code_bytes()
    totals = function_totals(functions, {name: layer["bytes"] for name, layer in layers.items()}, shared)
    record["shared_code_bytes"] = shared
    record["functions"] = {f.name: {"layers": list(f.layers), "bytes": totals[f.name]} for f in functions}
    _report(layers, functions, totals, options.limit)
    over = sorted(name for name, total in totals.items() if total > options.limit)
    over += sorted(name for name, layer in layers.items() if layer["bytes"] > options.limit)
    if over:
        return _fail(options, record, "oversized", f"over Lambda's unzipped limit of {options.limit} bytes: {over}")

    if options.smoke:
        python = options.smoke_python or find_python()
        if python is None:
            log.warning("no CPython %s found: skipped importing each handler with its layers", PYTHON_VERSION)
            record["smoke"] = "skipped: no CPython interpreter of the Lambda version here"
        else:
            failures = smoke_check(python, options.deps_dir, functions)
            if failures:
                return _fail(options, record, "failed", f"import check with {python}: {failures}")
            record["smoke"] = f"every handler imported with only its layers ({python})"
    record.update(status="ok", message="built", finished_at=_now())
    write_record(options.deps_dir, record)
    log.info("layers are in %s; deploy with -c requireDepsLayer=true", options.deps_dir)
    return 0


def _build_layer(deps_dir: Path, name: str, pins: list[Any], install: Installer, strip: str | None) -> dict[str, Any]:
    folder = layer_dir(deps_dir, name)
    if folder.exists():
        shutil.rmtree(folder)
    target = folder / "python"
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / f"{name}-requirements.txt"
        requirements.write_text("".join(pin.entry for pin in pins))
        install(requirements, target)
    installed = tree_size(folder)[0]
    slimmed = slim(target)
    stripped = strip_shared_libraries(target, strip) if strip else 0
    size, files = tree_size(folder)
    return {
        "bytes": size,
        "files": files,
        "installed_bytes": installed,
        "slimmed_bytes": slimmed,
        "stripped_bytes": stripped,
        "packages": [pin.entry.split(" ", 1)[0] for pin in pins],
    }


def _fail(options: BuildOptions, record: dict[str, Any], status: Status, message: str) -> int:
    record.update(status=status, message=message, finished_at=_now())
    write_record(options.deps_dir, record)
    log.error("layer build %s: %s", status, message)
    log.error("%s says %s: `cdk synth -c requireDepsLayer=true` will refuse these layers", options.deps_dir, status)
    return 1


def _report(
    layers: dict[str, dict[str, Any]], functions: list[FunctionLayers], totals: dict[str, int], limit: int
) -> None:
    for name, layer in layers.items():
        log.info(
            "layer %-5s %6.1f MiB unpacked (%d files; installed %.1f MiB, slimmed -%.1f MiB, stripped -%.1f MiB)",
            name,
            layer["bytes"] / MIB,
            layer["files"],
            layer["installed_bytes"] / MIB,
            layer["slimmed_bytes"] / MIB,
            layer["stripped_bytes"] / MIB,
        )
    for function in functions:
        total = totals[function.name]
        log.info(
            "%-20s %-14s %6.1f MiB of %.0f MiB (code, core layer and its dependency layers)%s",
            function.name,
            "+".join(function.layers),
            total / MIB,
            limit / MIB,
            "  OVER THE LIMIT" if total > limit else "",
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deps-dir", type=Path, default=DEPS_LAYER_DIR, help="where the layers and build.json go")
    parser.add_argument("--lock", type=Path, default=LAMBDA_LOCK, help="hash-pinned lock for the Lambda target")
    parser.add_argument("--with-boto3", action="store_true", help="ship the pinned boto3 in the base layer")
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        help=f"wheel platform tag, repeatable (default: {' '.join(PLATFORMS)}; must suit the Lambda runtime)",
    )
    parser.add_argument("--no-strip", action="store_true", help="keep the symbol tables of shared libraries")
    parser.add_argument("--no-smoke", action="store_true", help="skip importing each handler with a CPython 3.12")
    parser.add_argument("--smoke-python", type=Path, help="the CPython 3.12 for the import check")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = BuildOptions(
        deps_dir=args.deps_dir.resolve(),
        lock=args.lock.resolve(),
        with_boto3=args.with_boto3,
        platforms=tuple(args.platforms or PLATFORMS),
        strip=not args.no_strip,
        smoke=not args.no_smoke,
        smoke_python=args.smoke_python,
    )
    return build(options, pip_installer(options.platforms))


if __name__ == "__main__":
    sys.exit(main())
