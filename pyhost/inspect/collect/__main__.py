"""``python3 -m pyhost.inspect.collect REQUEST``: run one collector request (see protocol)."""

import sys

from .protocol import main

if __name__ == "__main__":
    sys.exit(main())
