"""``vidswap prepare``: photos and videos → a dataset of aligned face crops for ``vidswap train``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from vidswap.faces.detect import BACKENDS, DetectorConfig
from vidswap.faces.templates import ALIGNMENTS, TemplateMode

#: ``--alignment`` choices, each to the alignment it names (typed for the library).
_ALIGNMENTS: dict[str, TemplateMode] = {name: name for name in ALIGNMENTS}


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder (created; an existing one is added to, skipping inputs already done).")
@click.option("--alignment", type=click.Choice(list(_ALIGNMENTS)), default="arcface",
              show_default=True, help="Crop alignment; must be the alignment of the model you will train.")
@click.option("--detector", "backend", default=DetectorConfig().backend, show_default=True,
              type=click.Choice(BACKENDS),
              help="Face detector backend (yunet_onnx works offline; insightface, yunet_kornia).")
@click.option("--min-face-size", type=click.FloatRange(min=0), default=64.0, show_default=True,
              help="Skip faces smaller than this many pixels (sqrt of box area in the source).")
@click.option("--min-sharpness", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="Skip crops whose variance of the Laplacian is lower (blurry faces).")
@click.option("--every", type=click.IntRange(min=1), default=10, show_default=True,
              help="In videos, use every N-th frame.")
@click.option("--person-from-folder", is_flag=True,
              help="Label each crop with its input's parent folder name.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document on stdout.")
def prepare(inputs: tuple[Path, ...], output: Path, alignment: str, backend: str, min_face_size: float,
            min_sharpness: float, every: int, person_from_folder: bool, quiet: bool, as_json: bool) -> None:
    """Detect and align the faces of PHOTOS_OR_VIDEOS (files or folders) into 256² training crops.

    Writes OUTPUT/index.jsonl (one line per crop: file, source, frame, landmarks, person,
    sharpness) and OUTPUT/inputs.jsonl (inputs finished); running again resumes.
    """
    from vidswap.faces.detect import create_detector
    from vidswap.progress import track
    from vidswap.train.prepare import PrepareConfig, prepare_dataset

    config = PrepareConfig(alignment=_ALIGNMENTS[alignment], min_face_size=min_face_size,
                           min_sharpness=min_sharpness, every=every, person_from_folder=person_from_folder)
    detector = create_detector(DetectorConfig(backend=backend))
    report = prepare_dataset(inputs, output, detector=detector, config=config,
                             wrap=lambda todo: track(todo, total=len(todo), description="prepare",
                                                     unit="inputs", disable=quiet))
    if as_json:
        click.echo(json.dumps(asdict(report), sort_keys=True))
    else:
        crops = sum(r.crops for r in report.processed)
        click.echo(f"{len(report.processed)} inputs prepared ({crops} crops), "
                   f"{len(report.already_done)} already done; {report.total_crops} crops in {output}",
                   err=True)
