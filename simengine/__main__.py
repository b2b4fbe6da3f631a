"""`python -m simengine` runs the CLI."""

from .cli import main

main()
