"""`dvr render`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render() -> None:
        """Not implemented yet."""
        raise typer.Exit(1)
