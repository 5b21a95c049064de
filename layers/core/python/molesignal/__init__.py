"""MoleSignal's shared domain code, shipped to every function as the core Lambda layer.

Importing this package must stay cheap: it is on every function's cold-start path.
"""

__version__ = "0.1.0"
