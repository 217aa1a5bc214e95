#!/usr/bin/env python3
"""moxpy: run `python mox.py localserve` for a local mail server; `python mox.py -h` for all commands."""

import sys

from moxpy.cli import main

if __name__ == "__main__":
    sys.exit(main())
