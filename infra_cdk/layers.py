"""The dependency layers as data: which packages each ships, read from the Lambda lock, and
the build record (``build.json``) that tells the CDK app whether a built set is current.

Plain Python (no CDK import): ``build_layers`` writes the layers, ``config`` checks them at
synth time, and the infra tests check both against the registry and the lock.

Lambda's 250 MB unzipped limit is per function: its code plus *every* layer it has. So
packages are split by what imports them (``base`` for every function, ``web`` for the HTTP
functions and the authorizer, ``data`` for the functions that read or write Parquet or run
SQL), each function lists its layers in ``functions/registry.py``, and a build measures each
function's total as well as each layer.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infra_cdk.config import (
    CODE_EXCLUDE,
    CORE_LAYER_DIR,
    CORE_LAYER_EXCLUDE,
    FUNCTIONS_DIR,
    REPO_ROOT,
    ConfigError,
    StackConfig,
)
from registry import REGISTRY, Registry

# Hash-pinned for the Lambda target (CPython 3.12, manylinux x86_64) by `make lock`.
LAMBDA_LOCK = REPO_ROOT / "requirements" / "lambda.txt"
PYTHON_VERSION = "3.12"  # docs/adr/0004-lambda-python-3-12.md; RUNTIME in components/runtime.py
# Amazon Linux 2023 (glibc 2.34) loads manylinux_2_28 and older wheels.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
# AWS's quota: function code and all its layers, unzipped, 262,144,000 bytes.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LAMBDA_MAX_LAYERS = 5
RECORD_NAME = "build.json"
# Bump when what a build does to the installed files changes (the slimming rules below):
# a record written by an older build is then stale.
BUILD_FORMAT = 2
# The Lambda Python runtime ships these; a layer adds them only with --with-boto3.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore"})

Status = Literal["building", "ok", "failed", "oversized"]


@dataclass(frozen=True)
class DependencyLayer:
    name: str
    roots: tuple[str, ...]  # projects from requirements/runtime.in; their dependencies come from the lock
    requires: tuple[str, ...] = ()  # layers a function must also have; their packages are not repeated here
    description: str = ""


DEPENDENCY_LAYERS: tuple[DependencyLayer, ...] = (
    DependencyLayer(
        "base",
        ("pydantic", "pydantic-settings", "aws-lambda-powertools", "orjson", "cramjam"),
        description="settings, logging/metrics/tracing, JSON and compression: every function",
    ),
    DependencyLayer(
        "web",
        (
            "fastapi",
            "mangum",
            "python-multipart",
            "pyjwt",
            "argon2-cffi",
            "cryptography",
            "protobuf",
            "opentelemetry-proto",
            "uvicorn",  # the streaming functions' server (functions/stream_server.sh)
        ),
        requires=("base",),
        description="HTTP apps, tokens and the OTLP/remote_write decoders: HTTP functions and the authorizer",
    ),
    DependencyLayer(
        "data",
        ("pyarrow", "duckdb", "duckdb-ext-httpfs", "sqlglot", "pytz"),
        description=(
            "Parquet, DuckDB (with httpfs, pytz for TIMESTAMPTZ) and the SQL rewriter: functions that touch the lake"
        ),
    ),
    DependencyLayer(
        "audit",
        ("rfc8785", "geoip2fast", "maxminddb"),
        description="RFC 8785 canonical JSON, offline geo-IP data and a MaxMind DB reader: the audit-event chain",
    ),
)
LAYERS_BY_NAME: dict[str, DependencyLayer] = {layer.name: layer for layer in DEPENDENCY_LAYERS}

# What no function imports, removed after the install (paths relative to the layer's python/).
# pyarrow: headers, Cython sources and its test-suite; Arrow Flight (RPC) and its Python
# binding; and the two extra copies of each libarrow_python* that the wheel carries for
# linking against it (everything loads them by soname, libarrow_python*.so.<major>).
SLIM_PATTERNS: tuple[str, ...] = (
    "bin",
    "**/__pycache__",
    "**/*.pyc",
    "**/*.pyi",
    "**/*.pyx",
    "**/*.pxd",
    "**/*.pxi",
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/tests",
    "pyarrow/conftest.py",
    "pyarrow/_pyarrow_cpp_tests.*.so",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*.so",
    "pyarrow/flight.py",
    "pyarrow/libarrow_python*.so",
    "pyarrow/libarrow_python*.so.*.*.*",
)


class LayerError(ValueError):
    """The layer definitions, the lock and the registry do not agree."""


# --- the lock ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LockedPackage:
    name: str  # normalized project name
    entry: str  # its lines in the lock: "name==version \" and the --hash lines
    parents: frozenset[str]  # projects that require it ("# via"), normalized
    direct: bool  # named by requirements/runtime.in


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==")


def parse_lock(text: str) -> dict[str, LockedPackage]:
    """The packages of a ``uv pip compile --generate-hashes`` lock, with their ``# via`` parents."""
    packages: dict[str, LockedPackage] = {}
    name: str | None = None
    entry: list[str] = []
    parents: set[str] = set()
    direct = False

    def close() -> None:
        if name is not None:
            packages[name] = LockedPackage(name, "\n".join(entry) + "\n", frozenset(parents), direct)

    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            close()
            name, entry, parents, direct = normalize(match.group(1)), [line], set(), False
            continue
        stripped = line.strip()
        if name is None or not stripped:
            continue
        if stripped.startswith("--hash"):
            entry.append(line)
            continue
        via = stripped.lstrip("#").strip()
        via = via.removeprefix("via").strip()
        if not via:
            continue
        if via.startswith("-r"):
            direct = True
        elif not via.startswith("-c"):
            parents.add(normalize(via))
    close()
    return packages


def closure(lock: Mapping[str, LockedPackage], roots: Iterable[str]) -> set[str]:
    """``roots`` and everything they require, by the lock's ``# via`` lines."""
    children: dict[str, set[str]] = {}
    for package in lock.values():
        for parent in package.parents:
            children.setdefault(parent, set()).add(package.name)
    found: set[str] = set()
    todo = [normalize(root) for root in roots]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        if name not in lock:
            raise LayerError(f"{name} is not in {LAMBDA_LOCK.name}: run `make lock`")
        found.add(name)
        todo.extend(children.get(name, ()))
    return found


def layer_packages(
    lock: Mapping[str, LockedPackage],
    layers: Iterable[DependencyLayer] = DEPENDENCY_LAYERS,
    *,
    with_boto3: bool = False,
) -> dict[str, list[str]]:
    """Each layer's packages: its roots' closure minus what the layers it requires ship.

    Fails when a direct runtime dependency is in no layer, a package would ship in two
    layers, or a layer needs a package that neither it nor a required layer ships.
    """
    layers = tuple(layers)
    by_name = {layer.name: layer for layer in layers}
    shipped: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for layer in layers:
        roots = list(layer.roots)
        if with_boto3 and layer is layers[0]:
            roots += sorted(RUNTIME_PROVIDED)
        for required in layer.requires:
            if required not in shipped:
                raise LayerError(f"layer {layer.name} requires {required}, which must be listed before it")
        provided = {p for required in _required_closure(layer, by_name) for p in shipped[required]}
        needed = closure(lock, roots)
        if not with_boto3:
            needed -= _runtime_only(lock)
        mine = sorted(needed - provided)
        for name in mine:
            if name in owner:
                raise LayerError(f"{name} would ship in layers {owner[name]} and {layer.name}")
            owner[name] = layer.name
        shipped[layer.name] = mine
    unplaced = sorted(
        p.name for p in lock.values() if p.direct and p.name not in owner and p.name not in RUNTIME_PROVIDED
    )
    if unplaced:
        raise LayerError(f"requirements/runtime.in names {unplaced}, which no layer ships: add each to a layer's roots")
    return shipped


def _required_closure(layer: DependencyLayer, by_name: Mapping[str, DependencyLayer]) -> set[str]:
    found: set[str] = set()
    todo = list(layer.requires)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(by_name[name].requires)
    return found


def _runtime_only(lock: Mapping[str, LockedPackage]) -> set[str]:
    """boto3, botocore and what only they need (the runtime brings its own copies)."""
    everything_else = closure(lock, [p.name for p in lock.values() if p.direct and p.name not in RUNTIME_PROVIDED])
    provided = closure(lock, [name for name in RUNTIME_PROVIDED if name in lock])
    return provided - everything_else


# --- which function gets which layer ----------------------------------------------------
@dataclass(frozen=True)
class FunctionLayers:
    name: str
    handler: str
    layers: tuple[str, ...]


def registry_functions(registry: Registry = REGISTRY) -> list[FunctionLayers]:
    """Every function the stack deploys, with the dependency layers the registry gives it."""
    auth = registry.authorizer
    return [
        FunctionLayers(auth.name, auth.handler, auth.layers),
        *(FunctionLayers(f.name, f.handler, f.layers) for f in registry.http),
        *(FunctionLayers(w.name, w.handler, w.layers) for w in registry.workers),
        *(FunctionLayers(s.name, s.handler, s.layers) for s in registry.schedules),
        *([FunctionLayers(ws.name, ws.handler, ws.layers)] if (ws := registry.websocket) else []),
    ]


def check_attachments(
    functions: Iterable[FunctionLayers], layers: Iterable[DependencyLayer] = DEPENDENCY_LAYERS
) -> None:
    """Every layer a function names exists, comes with the layers it requires, and fits
    Lambda's five layers per function (with the core layer)."""
    by_name = {layer.name: layer for layer in layers}
    for function in functions:
        for name in function.layers:
            if name not in by_name:
                raise LayerError(f"{function.name}: no dependency layer named {name!r} (have {sorted(by_name)})")
            missing = sorted(_required_closure(by_name[name], by_name) - set(function.layers))
            if missing:
                raise LayerError(f"{function.name}: layer {name} needs {missing} beside it in the registry")
        if len(function.layers) + 1 > LAMBDA_MAX_LAYERS:
            raise LayerError(f"{function.name}: Lambda allows {LAMBDA_MAX_LAYERS} layers, core included")


# --- sizes ------------------------------------------------------------------------------
def tree_size(root: Path, exclude: Iterable[str] = ()) -> tuple[int, int]:
    """(bytes, files) under ``root`` as an asset with these CDK-style exclude globs ships it."""
    patterns = tuple(exclude)
    total = files = 0
    for directory, dirnames, filenames in os.walk(root):
        relative_dir = Path(directory).relative_to(root)
        dirnames[:] = [d for d in dirnames if not _excluded((relative_dir / d).as_posix(), patterns)]
        for filename in filenames:
            path = Path(directory, filename)
            if _excluded((relative_dir / filename).as_posix(), patterns) or path.is_symlink():
                continue
            total += path.stat().st_size
            files += 1
    return total, files


def _excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if fnmatch.fnmatchcase(name, pattern[3:]):
                return True
        elif fnmatch.fnmatchcase(relative, pattern):
            return True
    return False


def shared_code_bytes() -> int:
    """What every function carries besides its dependency layers: the code asset and the core layer."""
    return tree_size(FUNCTIONS_DIR, CODE_EXCLUDE)[0] + tree_size(CORE_LAYER_DIR, CORE_LAYER_EXCLUDE)[0]


def function_totals(
    functions: Iterable[FunctionLayers], layer_bytes: Mapping[str, int], shared_bytes: int
) -> dict[str, int]:
    return {f.name: shared_bytes + sum(layer_bytes[name] for name in f.layers) for f in functions}


# --- the build record -------------------------------------------------------------------
def fingerprint(lock_text: str, *, with_boto3: bool, platforms: Iterable[str]) -> str:
    """What a built set was made from: the lock, the layer definitions, the slimming rules
    and the build options. A different value means the built layers are stale."""
    made_from = {
        "format": BUILD_FORMAT,
        "lock": hashlib.sha256(lock_text.encode()).hexdigest(),
        "layers": [[layer.name, list(layer.roots), list(layer.requires)] for layer in DEPENDENCY_LAYERS],
        "slim": list(SLIM_PATTERNS),
        "python": PYTHON_VERSION,
        "platforms": list(platforms),
        "with_boto3": with_boto3,
    }
    return hashlib.sha256(json.dumps(made_from, sort_keys=True).encode()).hexdigest()


def record_path(deps_dir: Path) -> Path:
    return deps_dir / RECORD_NAME


def layer_dir(deps_dir: Path, name: str) -> Path:
    """A layer's asset folder; Lambda puts its ``python/`` on ``sys.path``."""
    return deps_dir / name


def write_record(deps_dir: Path, record: Mapping[str, Any]) -> None:
    deps_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(deps_dir)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    scratch.replace(path)


def read_record(deps_dir: Path) -> dict[str, Any] | None:
    path = record_path(deps_dir)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def stale_reason(
    deps_dir: Path,
    *,
    lock_path: Path = LAMBDA_LOCK,
    registry: Registry = REGISTRY,
    limit: int = LAMBDA_UNZIPPED_LIMIT,
) -> str | None:
    """Why the built layers under ``deps_dir`` must not be deployed, or None when they may.

    They may when the last build finished, was made from the current lock, layer
    definitions and slimming rules, its folders still hold what it measured, and every
    registry function's code, core layer and dependency layers fit Lambda's limit.
    """
    build = "build them with `python -m infra_cdk.build_layers`"
    record = read_record(deps_dir)
    if record is None:
        return f"no layer build record at {record_path(deps_dir)}: {build}"
    status = record.get("status")
    if status != "ok":
        return f"the last layer build did not succeed (status {status!r}: {record.get('message', '')}); {build}"
    options = record.get("options", {})
    expected = fingerprint(
        lock_path.read_text(), with_boto3=bool(options.get("with_boto3")), platforms=options.get("platforms", PLATFORMS)
    )
    if record.get("fingerprint") != expected:
        return (
            f"the layers were built from another lock, layer definition or build rules than the current ones; {build}"
        )
    functions = registry_functions(registry)
    try:
        check_attachments(functions)
    except LayerError as error:
        return str(error)
    measured: dict[str, int] = {}
    for layer in DEPENDENCY_LAYERS:
        built = record.get("layers", {}).get(layer.name)
        if not isinstance(built, dict):
            return f"layer {layer.name} is missing from the build record; {build}"
        size, files = tree_size(layer_dir(deps_dir, layer.name))
        if (size, files) != (built.get("bytes"), built.get("files")):
            return (
                f"layer {layer.name} changed since it was built ({files} files, {size} bytes; the build "
                f"recorded {built.get('files')} files, {built.get('bytes')} bytes); {build}"
            )
        measured[layer.name] = size
    totals = function_totals(functions, measured, shared_code_bytes())
    over = {name: total for name, total in totals.items() if total > limit}
    if over:
        listed = ", ".join(f"{name} {total / 2**20:.1f} MiB" for name, total in sorted(over.items()))
        return f"over Lambda's {limit / 2**20:.0f} MiB unzipped limit (code + core + dependency layers): {listed}"
    return None


# --- what the CDK app deploys -----------------------------------------------------------
PLACEHOLDER_DIRNAME = "placeholder-deps-layers"


@dataclass(frozen=True)
class DepsLayers:
    """Each dependency layer's asset folder, and why they are stand-ins (None when built)."""

    paths: dict[str, Path]
    problem: str | None

    @property
    def placeholder(self) -> bool:
        return self.problem is not None


def resolve_deps_layers(config: StackConfig, staging_dir: Path, registry: Registry = REGISTRY) -> DepsLayers:
    """The built layers when they are current and fit (``stale_reason``), else placeholders.

    Placeholders let ``cdk synth`` and the infra tests run on a machine that never built the
    layers (they are git-ignored). They are written under ``staging_dir`` (the cloud
    assembly's output folder), never into the source tree. Functions deployed with them
    fail at import time, so the stack carries a synth warning, and ``requireDepsLayer=true``
    (``make deploy`` passes it) turns the fallback into an error.
    """
    problem = stale_reason(config.deps_layer_dir, registry=registry)
    if problem is None:
        return DepsLayers(
            {layer.name: layer_dir(config.deps_layer_dir, layer.name) for layer in DEPENDENCY_LAYERS}, None
        )
    if config.require_deps_layer:
        raise ConfigError(f"requireDepsLayer=true: {problem}")
    paths: dict[str, Path] = {}
    for layer in DEPENDENCY_LAYERS:
        folder = staging_dir / PLACEHOLDER_DIRNAME / layer.name
        (folder / "python").mkdir(parents=True, exist_ok=True)
        (folder / "python" / "PLACEHOLDER.txt").write_text(
            f"Placeholder for the MoleSignal {layer.name} dependency layer.\n"
            "Build the real ones with `python -m infra_cdk.build_layers` before deploying.\n"
        )
        paths[layer.name] = folder
    return DepsLayers(paths, problem)
