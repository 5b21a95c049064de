"""CDK entry point: ``cdk.json`` at the repository root runs ``python -m infra_cdk.app``.

Run it from the repository root (as a module, so that ``infra_cdk`` is a package and the
venv's ``.pth`` puts ``functions`` and ``layers/core/python`` on the path).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App

from infra_cdk.components.console import console_dist
from infra_cdk.components.runtime import AssetPaths
from infra_cdk.config import CORE_LAYER_DIR, FUNCTIONS_DIR, REPO_ROOT, StackConfig, resolve_deps_layer
from infra_cdk.stack import MoleSignalStack
from registry import REGISTRY


def build_app(app: App | None = None) -> tuple[App, MoleSignalStack]:
    """The app with its one stack, configured from the app's context."""
    app = app if app is not None else App()
    config = StackConfig.from_context(app.node)
    deps = resolve_deps_layer(config, Path(app.outdir))
    stack = MoleSignalStack(
        app,
        config.stack_name,
        config=config,
        assets=AssetPaths(functions=FUNCTIONS_DIR, core_layer=CORE_LAYER_DIR, deps_layer=deps.path),
        deps_layer_placeholder=deps.placeholder,
        console_assets=console_dist(REPO_ROOT / REGISTRY.console.root, Path(app.outdir)) if REGISTRY.console else None,
    )
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
