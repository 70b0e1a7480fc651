"""``vidswap validate FILE.yaml``: check a pipeline and print it resolved."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from vidswap.errors import SpecError, VidswapError

__all__ = ["validate"]


def _parse_setting(ctx: click.Context, param: click.Parameter,
                   values: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> {key: value}, each value read as YAML (14, true, [a, b]).

    Text that YAML would read as a mapping without braces (``120:``) or not at all stays text.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    settings = {}
    for text in values:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE such as encode.crf=14, found {text!r}")
        try:
            value = YAML(typ="safe").load(raw) if raw.strip() else None
        except YAMLError:
            value = None
        if value is None or (isinstance(value, dict) and not raw.lstrip().startswith("{")):
            value = raw
        settings[key.strip()] = value
    return settings


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", callback=_parse_setting,
              help="Override a setting by its dotted key, the value read as YAML "
                   "(e.g. --set encode.crf=14 --set frames=120-480); repeatable.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the resolved pipeline as one JSON document (on error: the problems).")
def validate(file: Path, settings: dict[str, Any], as_json: bool) -> None:
    """Check the pipeline FILE and print it resolved.

    The resolved pipeline has absolute paths and every default filled in; it is what
    `vidswap run FILE` would do. Besides the file itself, it checks what the run checks before
    it loads anything: the input (probed) and the frame ranges against it, the output folders,
    and an existing output. On problems, prints one line per problem
    (FILE:LINE:COL: key: problem) to stderr and exits with status 1.
    """
    from vidswap.jobs.job import plan_run
    from vidswap.pipeline import load_pipeline
    from vidswap.pipeline.session import check_plan

    try:
        spec = load_pipeline(file, settings)
        # What the run checks before it loads anything: the input and its frame ranges, the
        # output folders, and an output that exists (unless it is its own job's render).
        check_plan(spec, replace=plan_run(spec, values=settings).resumes)
    except VidswapError as err:
        from vidswap.cli.errors import message, set_flags

        set_flags({"overwrite": "output.overwrite"})  # the writer's parameter is this key of the file
        problems = list(err.problems) if isinstance(err, SpecError) else [message(err, click.get_current_context())]
        if as_json:
            click.echo(json.dumps({"file": str(file), "valid": False, "problems": problems}, indent=2))
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(spec.to_json())
        return
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    yaml.dump(json.loads(spec.to_json()), sys.stdout)
    click.echo(f"{file}: valid (pipeline version {spec.version})", err=True)
