"""CNSight core: everything the app and the training scripts share.

Never imports Qt, ``desktop`` or ``training`` (checked by import-linter in the tests).
Research use only - not for diagnosis.
"""

__version__ = "0.1.0"

RESEARCH_USE_ONLY = "Research use only \u2014 not for diagnosis"
