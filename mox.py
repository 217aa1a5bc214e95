#!/usr/bin/env python3
"""moxpy: `python3 dev.py localserve` runs a local mail server (setting up .venv first);
`python3 dev.py mox -h` lists all commands. Run directly, this file needs the virtual
environment's Python: `.venv/bin/python mox.py ...`."""

import sys

from moxpy.cli import main

if __name__ == "__main__":
    sys.exit(main())
