"""What the commands print with rich besides their tables: the error line and the warning line."""

from __future__ import annotations

from typing import Callable

from rich.console import Console
from rich.markup import escape

err_console = Console(stderr=True)


def say_error(message: str) -> None:
    """One line on stderr, the message printed literally (a path may hold '[' and ']')."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warner(console: Console, label: str = "warning") -> Callable[[str], None]:
    """A library ``warn`` / ``log`` callback: one yellow-labelled line, the message printed literally."""
    return lambda message: console.print(f"[yellow]{label}:[/] {escape(message)}", soft_wrap=True)
