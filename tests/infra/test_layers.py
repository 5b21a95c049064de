"""The dependency layers: the Lambda lock, which function gets which layer, and the build
record that `cdk synth -c requireDepsLayer=true` trusts (no downloads: installs are faked)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from aws_cdk import App

from infra_cdk.app import build_app
from infra_cdk.build_layers import BuildOptions, build, pip_command
from infra_cdk.config import FUNCTIONS_DIR, REPO_ROOT, ConfigError, StackConfig
from infra_cdk.layers import (
    DEPENDENCY_LAYERS,
    LAMBDA_LOCK,
    PLACEHOLDER_DIRNAME,
    FunctionLayers,
    LayerError,
    check_attachments,
    layer_dir,
    layer_packages,
    normalize,
    parse_lock,
    read_record,
    registry_functions,
    resolve_deps_layers,
    shared_code_bytes,
    stale_reason,
)

CORE_PYTHON = REPO_ROOT / "layers" / "core" / "python"


def _pins(path: Path) -> dict[str, str]:
    return {
        normalize(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\\n]+)", path.read_text(), re.M)
    }


# --- the lock ---------------------------------------------------------------------------
def test_lambda_lock_is_hash_pinned_for_cpython_312_manylinux_at_the_dev_versions() -> None:
    text = LAMBDA_LOCK.read_text()
    command = text.splitlines()[1]
    assert "--generate-hashes" in command
    assert "--python-version 3.12" in command
    assert "--python-platform x86_64-manylinux_2_28" in command
    assert "-c requirements/dev.txt" in command
    lock = parse_lock(text)
    assert all("--hash=sha256:" in package.entry for package in lock.values())
    pins, dev, runtime_in = (
        _pins(LAMBDA_LOCK),
        _pins(REPO_ROOT / "requirements" / "dev.txt"),
        _pins(REPO_ROOT / "requirements" / "runtime.in"),
    )
    assert {name: pins[name] for name in runtime_in} == runtime_in
    assert {name: version for name, version in pins.items() if name in dev} == {
        name: dev[name] for name in pins if name in dev
    }
    assert {name for name, package in lock.items() if package.direct} == set(runtime_in)


def test_every_runtime_dependency_ships_in_exactly_one_layer_and_boto3_in_none() -> None:
    lock = parse_lock(LAMBDA_LOCK.read_text())
    shipped = layer_packages(lock)
    everywhere = [name for names in shipped.values() for name in names]
    assert len(everywhere) == len(set(everywhere))
    direct = {name for name, package in lock.items() if package.direct}
    assert direct - set(everywhere) == {"boto3", "botocore"}
    assert not {"boto3", "botocore", "s3transfer", "urllib3"} & set(everywhere)
    assert "jmespath" in shipped["base"]  # powertools needs it, whatever the runtime's botocore has
    with_boto3 = layer_packages(lock, with_boto3=True)
    assert {"boto3", "botocore", "s3transfer"} <= set(with_boto3["base"])


def test_a_runtime_dependency_in_no_layer_is_refused() -> None:
    lock = parse_lock(LAMBDA_LOCK.read_text())
    without_sqlglot = [layer for layer in DEPENDENCY_LAYERS if layer.name != "data"]
    with pytest.raises(LayerError, match="no layer ships"):
        layer_packages(lock, without_sqlglot)


# --- which function gets which layer ----------------------------------------------------
def _module_file(module: str) -> Path | None:
    for root in (CORE_PYTHON, FUNCTIONS_DIR):
        path = root.joinpath(*module.split("."))
        if (path / "__init__.py").is_file():
            return path / "__init__.py"
        if path.with_suffix(".py").is_file():
            return path.with_suffix(".py")
    return None


def third_party_imports(handler_module: str) -> dict[str, str]:
    """Top-level third-party modules that ``handler_module`` can import, directly or through
    MoleSignal modules, including imports inside functions (a lazy import still has to be
    there when the code path runs). Maps each to one MoleSignal module that imports it."""
    local = {"molesignal", "registry", *(p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir())}
    found: dict[str, str] = {}
    seen: set[str] = set()
    todo = [handler_module]
    while todo:
        module = todo.pop()
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        package = module if path.name == "__init__.py" else ".".join(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in local:
                    todo.append(name)
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, module)
    return found


def test_each_function_has_exactly_the_layers_its_imports_need() -> None:
    shipped = layer_packages(parse_lock(LAMBDA_LOCK.read_text()))
    layer_of = {package: layer for layer, packages in shipped.items() for package in packages}
    providers = {top: {normalize(d) for d in dists} for top, dists in metadata.packages_distributions().items()}
    in_runtime = {"boto3", "botocore"}
    for function in registry_functions():
        needed: set[str] = set()
        for top, importer in third_party_imports(function.handler.rsplit(".", 1)[0]).items():
            if top in in_runtime:
                continue
            layers = {layer_of[d] for d in providers.get(top, ()) if d in layer_of}
            assert layers, f"{function.name} imports {top} (in {importer}), which no layer ships"
            needed |= layers
        assert set(function.layers) == needed, (
            f"{function.name}: the registry gives it {function.layers}; its imports need {sorted(needed)}"
        )


def test_layer_attachments_need_their_required_layers_and_fit_five_layers() -> None:
    check_attachments(registry_functions())
    with pytest.raises(LayerError, match="needs \\['base'\\]"):
        check_attachments([FunctionLayers("f", "f.handler.lambda_handler", ("web",))])
    with pytest.raises(LayerError, match="no dependency layer named 'gpu'"):
        check_attachments([FunctionLayers("f", "f.handler.lambda_handler", ("base", "gpu"))])


# --- building (pip faked) ---------------------------------------------------------------
def fake_pip(requirements: Path, target: Path) -> None:
    """Writes a small module per pinned package, and pyarrow's bulky parts the build removes."""
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==", line)
        if match:
            package = target / normalize(match.group(1)).replace("-", "_")
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text("x = 1\n" * 200)
    if (target / "pyarrow").is_dir():
        for junk in ("tests/test_table.py", "include/arrow/api.h", "lib.pyi", "libarrow_flight.so.2600"):
            (target / "pyarrow" / junk).parent.mkdir(parents=True, exist_ok=True)
            (target / "pyarrow" / junk).write_bytes(b"\0" * 5000)
        for copy in ("libarrow_python.so", "libarrow_python.so.2600", "libarrow_python.so.2600.1.0"):
            (target / "pyarrow" / copy).write_bytes(b"\0" * 3000)


def failing_pip(requirements: Path, target: Path) -> None:
    raise subprocess.CalledProcessError(1, ["pip", "install", "-r", str(requirements)])


def options(tmp_path: Path, **overrides: object) -> BuildOptions:
    lock = tmp_path / "lambda.txt"
    if not lock.exists():
        lock.write_text(LAMBDA_LOCK.read_text())
    chosen = BuildOptions(deps_dir=tmp_path / "deps", lock=lock, strip=False, smoke=False)
    for key, value in overrides.items():
        setattr(chosen, key, value)
    return chosen


def synth_refuses(deps_dir: Path, match: str) -> None:
    """What `cdk synth -c requireDepsLayer=true -c depsLayerDir=...` runs: the app refuses."""
    app = App(
        outdir=str(deps_dir.parent / "cdk.out"), context={"requireDepsLayer": "true", "depsLayerDir": str(deps_dir)}
    )
    with pytest.raises(ConfigError, match=match):
        build_app(app)


def test_a_build_records_each_layer_and_function_total_and_slims_pyarrow(tmp_path: Path) -> None:
    chosen = options(tmp_path)
    assert build(chosen, fake_pip) == 0
    record = read_record(chosen.deps_dir)
    assert record is not None
    assert record["status"] == "ok"
    assert set(record["layers"]) == {layer.name for layer in DEPENDENCY_LAYERS}
    shared = shared_code_bytes()
    for function in registry_functions():
        entry = record["functions"][function.name]
        assert entry["layers"] == list(function.layers)
        assert entry["bytes"] == shared + sum(record["layers"][name]["bytes"] for name in function.layers)
    pyarrow = layer_dir(chosen.deps_dir, "data") / "python" / "pyarrow"
    assert sorted(p.name for p in pyarrow.iterdir()) == ["__init__.py", "libarrow_python.so.2600"]
    assert record["layers"]["data"]["slimmed_bytes"] == 4 * 5000 + 2 * 3000
    assert not (layer_dir(chosen.deps_dir, "base") / "python" / "boto3").exists()
    assert stale_reason(chosen.deps_dir, lock_path=chosen.lock) is None


def test_a_failed_install_exits_non_zero_and_synth_refuses_the_layers(tmp_path: Path) -> None:
    chosen = options(tmp_path, lock=LAMBDA_LOCK)
    assert build(chosen, failing_pip) == 1
    record = read_record(chosen.deps_dir)
    assert record is not None
    assert record["status"] == "failed"
    assert "CalledProcessError" in record["message"]
    synth_refuses(chosen.deps_dir, "did not succeed \\(status 'failed'")


def test_an_oversized_function_exits_non_zero_and_synth_refuses_the_layers(tmp_path: Path) -> None:
    # A limit that the code, the core layer and the base layer fit, but not the data layer.
    chosen = options(tmp_path, lock=LAMBDA_LOCK, limit=shared_code_bytes() + 20_000)
    assert build(chosen, fake_pip) == 1
    record = read_record(chosen.deps_dir)
    assert record is not None
    assert record["status"] == "oversized"
    assert "query_api" in record["message"]
    assert "housekeeping_worker" not in record["message"]
    synth_refuses(chosen.deps_dir, "status 'oversized'")


def test_synth_measures_each_function_against_the_limit_itself(tmp_path: Path) -> None:
    chosen = options(tmp_path)
    assert build(chosen, fake_pip) == 0
    reason = stale_reason(chosen.deps_dir, lock_path=chosen.lock, limit=shared_code_bytes() + 20_000)
    assert reason is not None
    assert "over Lambda's" in reason
    assert "query_api" in reason


def test_layers_built_from_another_lock_are_stale(tmp_path: Path) -> None:
    chosen = options(tmp_path)
    assert build(chosen, fake_pip) == 0
    chosen.lock.write_text(chosen.lock.read_text().replace("sqlglot==", "sqlglot==0.0.1+"))
    reason = stale_reason(chosen.deps_dir, lock_path=chosen.lock)
    assert reason is not None
    assert "another lock" in reason


def test_layer_folders_changed_after_the_build_are_refused(tmp_path: Path) -> None:
    chosen = options(tmp_path, lock=LAMBDA_LOCK)
    assert build(chosen, fake_pip) == 0
    assert stale_reason(chosen.deps_dir) is None
    (layer_dir(chosen.deps_dir, "web") / "python" / "stray.py").write_text("print('hi')\n")
    synth_refuses(chosen.deps_dir, "layer web changed since it was built")


def test_an_unfinished_or_missing_build_is_refused(tmp_path: Path) -> None:
    synth_refuses(tmp_path / "never-built", "no layer build record")

    def interrupted(requirements: Path, target: Path) -> None:
        raise KeyboardInterrupt

    chosen = options(tmp_path, lock=LAMBDA_LOCK)
    with pytest.raises(KeyboardInterrupt):
        build(chosen, interrupted)
    synth_refuses(chosen.deps_dir, "status 'building'")


def test_without_require_the_app_stages_placeholders_and_says_why(tmp_path: Path) -> None:
    layers = resolve_deps_layers(StackConfig(deps_layer_dir=tmp_path / "missing"), tmp_path / "cdk.out")
    assert layers.placeholder
    assert layers.problem is not None
    assert "no layer build record" in layers.problem
    for layer in DEPENDENCY_LAYERS:
        assert layers.paths[layer.name] == tmp_path / "cdk.out" / PLACEHOLDER_DIRNAME / layer.name
        assert (layers.paths[layer.name] / "python" / "PLACEHOLDER.txt").is_file()
    assert not (tmp_path / "missing").exists()


def test_pip_installs_only_hash_pinned_linux_wheels_for_the_lambda_python(tmp_path: Path) -> None:
    command = pip_command(tmp_path / "req.txt", tmp_path / "python")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(command)
    assert "--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64" in joined
    assert {"--only-binary=:all:", "--require-hashes", "--no-deps", "--no-compile"} <= set(command)
    assert "--python-version 3.12" in joined
    assert f"--target {tmp_path / 'python'}" in joined
