"""`python -m mlspec` runs the command line, for environments without the `mlspec` script."""

from mlspec.cli import main

main()
