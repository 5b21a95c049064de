"""CDK entry point: ``cdk.json`` at the repository root runs ``python -m infra_cdk.app``.

Run it from the repository root (as a module, so that ``infra_cdk`` is a package and the
venv's ``.pth`` puts ``functions`` and ``layers/core/python`` on the path).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App

from infra_cdk.components.runtime import AssetPaths
from infra_cdk.config import CORE_LAYER_DIR, FUNCTIONS_DIR, StackConfig
from infra_cdk.layers import resolve_deps_layers
from infra_cdk.nag import add_checks
from infra_cdk.stack import MoleSignalStack


def build_app(app: App | None = None) -> tuple[App, MoleSignalStack]:
    """The app with its one stack, configured from the app's context."""
    app = app if app is not None else App()
    add_checks(app)  # cdk-nag's AwsSolutions pack: an unanswered finding fails the synth
    config = StackConfig.from_context(app.node)
    deps = resolve_deps_layers(config, Path(app.outdir))
    stack = MoleSignalStack(
        app,
        config.stack_name,
        config=config,
        assets=AssetPaths(functions=FUNCTIONS_DIR, core_layer=CORE_LAYER_DIR, deps_layers=deps.paths),
        deps_layer_problem=deps.problem,
    )
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
