"""``python -m krypto.pipeline.report``: see :mod:`krypto.pipeline.report.cli`."""

import sys

from krypto.pipeline.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
