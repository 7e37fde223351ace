"""ImageNet-1k class ids <-> names, for GCP's class-conditional prior (``--class ID|NAME``).

``imagenet_classes.txt`` beside this module is the standard ILSVRC-2012 synset list: line ``i``
(0-based) is class ``i`` as ``<wordnet id> <name>, <synonym>, ...`` (the order BigGAN and every
ImageNet classifier use). A name matches a class when it equals, ignoring case and surrounding
spaces, the WordNet id or any of its comma-separated names; a few names belong to two classes
(``crane`` the bird and the machine, ``maillot``): those need the id.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources

from autocolor.errors import UsageError

__all__ = ["NUM_CLASSES", "class_id", "class_name", "class_names", "parse_class", "resolve_class"]

NUM_CLASSES = 1000
_FILE = "imagenet_classes.txt"


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[str, tuple[str, ...]], ...]:
    text = resources.files("autocolor.models.gcp").joinpath(_FILE).read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        wnid, _, names = line.strip().partition(" ")
        rows.append((wnid, tuple(n.strip() for n in names.split(",") if n.strip())))
    if len(rows) != NUM_CLASSES:  # a packaging fault, not a user error
        raise RuntimeError(f"{_FILE}: expected {NUM_CLASSES} classes, found {len(rows)}")
    return tuple(rows)


def class_names() -> list[str]:
    """The first (main) name of each class, index = class id."""
    return [names[0] for _, names in _table()]


def class_name(class_id: int) -> str:
    """Main name of ``class_id`` (e.g. 207 -> ``"golden retriever"``)."""
    if not 0 <= class_id < NUM_CLASSES:
        raise UsageError(f"ImageNet class id must be in [0, {NUM_CLASSES - 1}], got {class_id}")
    return _table()[class_id][1][0]


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[int, ...]]:
    index: dict[str, list[int]] = {}
    for class_id, (wnid, names) in enumerate(_table()):
        for key in {wnid.lower(), *(n.lower() for n in names)}:
            index.setdefault(key, []).append(class_id)
    return {key: tuple(ids) for key, ids in index.items()}


def resolve_class(name: str) -> int:
    """Class id of a name or WordNet id (case-insensitive).

    Raises:
        UsageError: no class has that name (close names are suggested), or several do.
    """
    key = " ".join(name.strip().lower().split())
    ids = _index().get(key)
    if ids is None:
        close = sorted(k for k in _index() if key and key in k)[:5] or difflib.get_close_matches(key, _index(), n=5)
        hint = f"; did you mean: {', '.join(repr(c) for c in close)}" if close else ""
        raise UsageError(f"no ImageNet class is named {name!r}{hint} (or give the class id 0-999)")
    if len(ids) > 1:
        options = ", ".join(f"{i} ({', '.join(_table()[i][1][:2])})" for i in ids)
        raise UsageError(f"ImageNet class name {name!r} is ambiguous: {options}; give the id")
    return ids[0]


def parse_class(value: str | int | None) -> int | None:
    """``--class`` value -> id: an int or digit string is an id, other text a name, None stays None."""
    if value is None:
        return None
    if isinstance(value, int) or value.strip().isdigit():
        class_id = int(value)
        if not 0 <= class_id < NUM_CLASSES:
            raise UsageError(f"ImageNet class id must be in [0, {NUM_CLASSES - 1}], got {class_id}")
        return class_id
    return resolve_class(value)


#: Alias used by :mod:`autocolor.sampling` (``class_id(name) -> int``).
class_id = resolve_class
