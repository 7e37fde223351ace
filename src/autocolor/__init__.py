"""autocolor: colorize grayscale photographs with published methods.

The public API is imported lazily so that ``autocolor --version`` and
``import autocolor`` stay fast (torch is only imported when needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "colorize", "load_model", "list_models", "create_model"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from autocolor.models.registry import create_model, list_models
    from autocolor.pipeline import colorize, load_model


def __getattr__(name: str) -> Any:
    if name in ("create_model", "list_models"):
        from autocolor.models import registry

        return getattr(registry, name)
    if name in ("colorize", "load_model"):
        from autocolor import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'autocolor' has no attribute {name!r}")
