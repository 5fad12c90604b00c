"""`python -m seamline` runs the command line."""

from seamline.cli import main

main()
