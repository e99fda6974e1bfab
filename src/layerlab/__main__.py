"""`python -m layerlab`: the `layerlab` command, for a caller that has an interpreter but not the script
(`layerlab grade-many` starts one grading per student this way, with its own interpreter)."""

import sys

from layerlab.cli import main

if __name__ == "__main__":  # tests import every module of the package; only running it runs the command
    sys.exit(main())
