"""The ``vidswap`` command line: one click group whose subcommands load on first use.

Each subcommand lives in its own module of this package, named in ``COMMANDS`` with its
one-line help, so ``vidswap --help`` imports neither torch nor av. Library errors
(:class:`vidswap.errors.VidswapError`) become one line on stderr and exit status 1.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from typing import Any

import click

from vidswap import __version__
from vidswap.errors import VidswapError

__all__ = ["COMMANDS", "main"]

#: name -> (module:attribute, one-line help). Add a line here when a command module is added.
COMMANDS: dict[str, tuple[str, str]] = {
    "faces": ("vidswap.cli.faces:faces", "Detect, track and smooth faces in a video or photo."),
    "weights": ("vidswap.cli.weights:weights", "List, fetch, verify, remove and import model weights."),
    "doctor": ("vidswap.cli.doctor:doctor", "Check the installation: torch, CUDA, codecs, weights."),
    "model": ("vidswap.cli.model:model", "Inspect FaceShifter model sizes; write random-weight model files."),
    "probe": ("vidswap.cli.probe:probe", "Show streams, timing, rotation, colour and timecode of a video."),
    "validate": ("vidswap.cli.validate:validate", "Check a pipeline YAML file and print it resolved."),
    "prepare": ("vidswap.cli.prepare:prepare",
                "Detect and align faces of photos/videos into a training dataset."),
    "train": ("vidswap.cli.train:train", "Train AEI-Net and HEAR-Net on a prepared dataset."),
    "run": ("vidswap.cli.run:run", "Swap faces in a video (options or a pipeline YAML); the main command."),
    "render": ("vidswap.cli.render:render", "Render a slice of a job's segments (render farm node) and mux."),
    "job": ("vidswap.cli.job:job", "Show a render job (segments, overrides, their state) or clean it up."),
    "report": ("vidswap.cli.report:report", "Write the QC report (HTML, markers, JSON) of a render from its job."),
    "turnover": ("vidswap.cli.turnover:turnover",
                 "Write a job's VFX turnover (RGBA face layer, matte, tracking, Nuke script) from its stored state."),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        target, short_help = COMMANDS[cmd_name]
        if ctx.meta.get(_LISTING):
            # The group's own --help lists every command: a placeholder keeps that import-free.
            return click.Command(cmd_name, short_help=short_help)
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctx.meta[_LISTING] = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            ctx.meta[_LISTING] = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VidswapError as err:
            from vidswap.cli.errors import message

            click.echo(f"error: {message(err, ctx)}", err=True)
            ctx.exit(1)
        except OSError as err:  # the system's own word: a read-only disk, a name too long, no space left
            click.echo(f"error: {err}", err=True)
            ctx.exit(1)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line; a usage error (a bad option value, a missing argument, an
        unknown command) is one ``error:`` line and exit status 1, like every other error.

        SIGTERM (a farm's or a shell's kill) is handled like Ctrl-C: the work in hand stops the
        way it stops on any error, so no temporary file is left behind; exit status 130.
        """
        kwargs["standalone_mode"] = False
        _few_malloc_arenas()
        previous = signal.signal(signal.SIGTERM, _interrupt) \
            if threading.current_thread() is threading.main_thread() else None
        try:
            status = super().main(*args, **kwargs)  # --help, --version and ctx.exit(N) return N here
        except click.Abort:  # click's word for KeyboardInterrupt
            click.echo("error: interrupted (a job resumes when the same command runs again)", err=True)
            sys.exit(130)
        except click.ClickException as err:
            where = f"{err.ctx.command_path}: " if isinstance(err, click.UsageError) and err.ctx else ""
            click.echo(f"error: {where}{err.format_message()}", err=True)
            sys.exit(1)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        sys.exit(status if isinstance(status, int) else 0)


def _few_malloc_arenas() -> None:
    """Let glibc's malloc keep at most 2 arenas (its default is 8 per core). The render's threads
    (decode, stages, encode) each allocate frames; with an arena each, fragmentation let a job's
    resident memory grow with the video's length (+17% for a 10x longer job, measured by
    ``benchmarks/soak.py``); with 2 it stays flat. Not glibc (macOS, musl): nothing to do."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        return
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, 2)


#: glibc's ``mallopt`` parameter for the most arenas (malloc.h).
_M_ARENA_MAX = -8


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C."""
    raise KeyboardInterrupt

_LISTING = "vidswap.listing_commands"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vidswap")
def main() -> None:
    """vidswap: face swapping for video (FaceShifter), built for post-production.

    Run `vidswap COMMAND --help` for the options of each command.
    """

