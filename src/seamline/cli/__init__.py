"""The `seamline` command line: `main` is the console script, `app` the Typer application.

The commands live in the modules beside this one and import the engines lazily, inside each
command, so `seamline --help` stays quick.
"""

from seamline.cli.commands import app, main

__all__ = ["app", "main"]
