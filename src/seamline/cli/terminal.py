"""The CLI's Rich consoles: formatted for a terminal, never wrapped when piped.

Rich lays out for 80 columns when the stream is not a terminal, which splits long lines (write
keys, tokens, URLs, the banner's code snippets) and table rows across lines in a file or a pipe.
Piped, the consoles are wide enough that every line and row keeps its natural length.
"""

from __future__ import annotations

from rich.console import Console

# Wide enough for any row we print; tables and Panel.fit still take only the width they need.
PIPED_WIDTH = 10_000


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that wraps only on a terminal."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)
    return console
