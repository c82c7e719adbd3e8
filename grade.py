#!/usr/bin/env python3
"""Entry point: `python grade.py --help`."""

from graders.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
