"""The class taxonomy. The default order is fixed; a bundle may declare another list.

Nothing else in CNSight hard-codes the number of classes: code takes a ``Taxonomy``
(usually ``bundle.taxonomy``).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CLASS_NAMES: tuple[str, ...] = (
    "normal",
    "anencephaly",
    "encephalocele",
    "holoprosencephaly",
    "rachischisis",
)

_DEFAULT_DISPLAY = {
    "normal": "Normal",
    "anencephaly": "Anencephaly",
    "encephalocele": "Encephalocele / meningocele",
    "holoprosencephaly": "Holoprosencephaly",
    "rachischisis": "Rachischisis (open spina bifida)",
}


def display_name(class_name: str) -> str:
    """Human-readable name of a class; unknown names are title-cased."""
    return _DEFAULT_DISPLAY.get(class_name, class_name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Taxonomy:
    """An ordered list of class names (index = model output index)."""

    class_names: tuple[str, ...] = DEFAULT_CLASS_NAMES

    def __post_init__(self):
        names = tuple(self.class_names)
        if len(names) < 2:
            raise ValueError("a taxonomy needs at least two classes")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate class names in {names}")
        if any(not n or n != n.strip() for n in names):
            raise ValueError(f"class names must be non-empty without surrounding spaces: {names}")
        object.__setattr__(self, "class_names", names)

    def __len__(self) -> int:
        return len(self.class_names)

    def index(self, name: str) -> int:
        try:
            return self.class_names.index(name)
        except ValueError:
            raise ValueError(
                f"unknown class {name!r}; known: {', '.join(self.class_names)}"
            ) from None

    @property
    def display_names(self) -> tuple[str, ...]:
        return tuple(display_name(n) for n in self.class_names)


DEFAULT_TAXONOMY = Taxonomy()
