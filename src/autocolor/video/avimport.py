"""PyAV is an optional extra: import it in one place, with one clear error when it is missing."""

from __future__ import annotations

from types import ModuleType

from autocolor.errors import MissingExtraError

EXTRA = "video"


def import_av() -> ModuleType:
    """The ``av`` module, or :class:`MissingExtraError` naming ``autocolor[video]``."""
    try:
        import av
    except ImportError as exc:
        raise MissingExtraError(
            f"video needs PyAV, which is not installed: pip install 'autocolor[{EXTRA}]' ({exc})"
        ) from exc
    return av
