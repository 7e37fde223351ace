"""Network families. Importing this package registers every family, explicitly."""

from autocolor.models import cic  # noqa: F401  (registers cic.*)
from autocolor.models import cic_lite  # noqa: F401  (registers cic.lite*)
from autocolor.models import cic_base  # noqa: F401  (registers cic.base*)
from autocolor.models import gcp  # noqa: F401  (registers gcp.*)
from autocolor.models import larsson  # noqa: F401  (registers larsson.*)
from autocolor.models import pic  # noqa: F401  (registers pic.*)
from autocolor.models.registry import create_model, list_models, model_info, register_model

__all__ = ["create_model", "list_models", "model_info", "register_model"]
