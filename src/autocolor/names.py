"""Short model names accepted everywhere a model name is (CLI, registry, weights).

Registry names are ``family.variant``; a family with one obvious full-size model may also be
called by the family name alone (``--model gcp``, ``fetch-weights gcp --from DIR``).
"""

from __future__ import annotations

MODEL_ALIASES: dict[str, str] = {
    "gcp": "gcp.imagenet",
}


def canonical_model_name(name: str) -> str:
    """``name`` with a family alias replaced by its model, e.g. ``"gcp"`` -> ``"gcp.imagenet"``."""
    return MODEL_ALIASES.get(name, name)
