"""Study discovery: folders, dataset layout, manifest CSV and DICOMDIR -> ``Study``.

See docs/data-formats.md for the rules.
"""

from core.study.discover import discover
from core.study.naming import natural_key

__all__ = ["discover", "natural_key"]
