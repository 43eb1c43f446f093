"""Study discovery: folders, dataset layout, manifest CSV and DICOMDIR -> ``Cohort``.

See docs/data-formats.md for the rules.
"""

from core.discovery.discover import discover
from core.discovery.naming import natural_key

__all__ = ["discover", "natural_key"]
