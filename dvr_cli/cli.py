"""The `dvr` command line: typer commands only. Each command lives in dvr_cli/commands/ and
is a thin layer over the library; errors for users are DvrError, printed here in one line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from .errors import DvrError

app = typer.Typer(
    name="dvr",
    help="Differentiable Volumetric Rendering: photos + cameras -> textured 3D mesh.\n\n"
    "Typical use: `dvr calibrate` (optional) -> `dvr fit` -> `dvr export` / `dvr render` / `dvr eval`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from .commands import batch, calibrate, evaluate, export, fit, info, render

    for module in (calibrate, fit, export, render, evaluate, info, batch):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app, turning DvrError into one line + exit 2."""
    from .runtime import setup_process

    setup_process()
    try:
        result = app(args=argv, standalone_mode=False)
    except DvrError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            err_console.print("[yellow]aborted[/]")
            return 1
        raise
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
