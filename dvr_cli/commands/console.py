"""What the commands print with rich besides their tables: the error line and the warning line."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Within the block, a Python warning (``warnings.warn`` in the library or a package it uses) is
    printed as one ``warning:`` line on stderr, once per message, without its source file and line."""
    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        if text not in said:
            said.add(text)
            err_console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)

    with warnings.catch_warnings():  # the filters stay as they are: what Python hides stays hidden
        warnings.showwarning = show
        yield
