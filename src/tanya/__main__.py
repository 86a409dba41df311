"""`python -m tanya` runs the CLI."""

from tanya.cli import main

main()
