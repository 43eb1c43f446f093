"""``cnsight-predict`` under an address-space limit (the fuzz suite's end-to-end run):

    python -m tests.fuzz.limited EXTRA_GB [cnsight-predict arguments...]

torch and the CLI are imported first, then the limit is set at what the process maps plus
EXTRA_GB, so a bomb that got past the checks would meet MemoryError, not the machine.
"""

from __future__ import annotations

import sys


def main() -> int:
    extra_gb = float(sys.argv[1])
    import torch  # noqa: F401 - mapped before the limit

    from core.cli.predict import main as predict
    from tests.fuzz.harness import limit_address_space

    limit_address_space(extra_gb)
    return predict(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
