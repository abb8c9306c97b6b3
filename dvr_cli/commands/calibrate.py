"""`dvr calibrate`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate() -> None:
        """Not implemented yet."""
        raise typer.Exit(1)
