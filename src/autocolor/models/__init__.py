"""Network families. Importing this package registers every family, explicitly."""

from autocolor.models import cic  # noqa: F401  (registers cic.*)
from autocolor.models.registry import create_model, list_models, model_info, register_model

__all__ = ["create_model", "list_models", "model_info", "register_model"]
