"""MiVOLO (face+body age/gender transformer) on today's timm VOLO, loading the published checkpoints safely.

Architecture (Kuprashevich & Tolstykh, 2023): VOLO-D1 whose patch embedding has two convolutional stems,
one for the face crop and one for the body crop; their patch features are fused by cross "bottleneck"
attention (face queries attend to body keys/values and the other way round) before the VOLO stages.
Face-only checkpoints are plain VOLO-D1 with 3 input channels. Outputs: 2 gender logits (male, female)
and a normalised age, or 1 (age only).

Crops and the network input follow the reference implementation's inference path exactly
(``mivolo/estimation/mivolo_crops.py`` states the rules), so published accuracy carries over.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mivolo.core.errors import UserError
from mivolo.estimation.mivolo_crops import face_crop, int_boxes, network_input, person_crop

log = logging.getLogger(__name__)

D1 = {"layers": (4, 4, 8, 2), "embed_dims": (192, 384, 384, 384), "num_heads": (6, 12, 12, 12)}
# Harmless containers that training scripts store beside the weights (argparse args, numpy scalars).
SAFE_GLOBALS = [argparse.Namespace]


class CrossBottleneckAttention(nn.Module):
    """Cross attention between face and body patch features (one head, relative position embedding)."""

    def __init__(self, dim: int, feat_size: tuple[int, int], mlp_ratio: int = 4) -> None:
        super().__init__()
        from timm.layers.bottleneck_attn import PosEmbedRel
        from timm.layers.mlp import Mlp

        self.dim = dim
        self.scale = dim ** -0.5
        self.qkv_f = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_p = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.pos_embed = PosEmbedRel(feat_size, dim_head=dim, scale=self.scale)
        self.norm = nn.LayerNorm([dim * 2, *feat_size])
        self.mlp = Mlp(in_features=dim * 2, hidden_features=dim * mlp_ratio, act_layer=nn.GELU, out_features=dim,
                       drop=0, use_conv=True)

    def _qkv(self, x: torch.Tensor, conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        q, k, v = conv(x).split(self.dim, dim=1)
        return (q.reshape(batch, self.dim, -1).transpose(-1, -2), k.reshape(batch, self.dim, -1),
                v.reshape(batch, self.dim, -1).transpose(-1, -2))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        attn = ((q @ k) * self.scale + self.pos_embed(q)).softmax(dim=-1)
        return (attn @ v).transpose(-1, -2).reshape(shape[0], self.dim, shape[2], shape[3])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        face, body = x[:, : self.dim], x[:, self.dim:]
        q_f, k_f, v_f = self._qkv(face, self.qkv_f)
        q_p, k_p, v_p = self._qkv(body, self.qkv_p)
        fused = torch.cat((self._attend(q_f, k_p, v_p, face.shape), self._attend(q_p, k_f, v_f, face.shape)), dim=1)
        return self.mlp(self.norm(fused))


def _stem(hidden: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (cin, kernel, stride) in enumerate([(3, 7, 2), (hidden, 3, 1), (hidden, 3, 1)]):
        layers += [nn.Conv2d(cin if i == 0 else hidden, hidden, kernel, stride, kernel // 2, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class FaceBodyPatchEmbed(nn.Module):
    """Two stems + projections (face channels 0-2, body channels 3-5) fused by cross attention."""

    def __init__(self, img_size: int, hidden: int = 64, embed_dim: int = 384, patch_size: int = 8) -> None:
        super().__init__()
        self.conv1, self.conv2 = _stem(hidden), _stem(hidden)
        kernel = patch_size // 2
        self.proj1 = nn.Conv2d(hidden, embed_dim, kernel, kernel)
        self.proj2 = nn.Conv2d(hidden, embed_dim, kernel, kernel)
        side = ((img_size + 2 * 3 - 7) // 2 + 1) // kernel
        self.map = CrossBottleneckAttention(embed_dim, (side, side))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        face = self.proj1(self.conv1(x[:, :3]))
        body = self.proj2(self.conv2(x[:, 3:]))
        return self.map(torch.cat([face, body], dim=1))


def build_network(img_size: int, with_persons: bool, num_classes: int) -> nn.Module:
    """MiVOLO-D1: timm's VOLO (keyword arguments: timm 1.0 added parameters) with our face+body patch embedding."""
    from timm.models.volo import VOLO

    model = VOLO(img_size=img_size, in_chans=3, num_classes=num_classes, global_pool="token", patch_size=8,
                 stem_hidden_dim=64, downsamples=(True, False, False, False),
                 outlook_attention=(True, False, False, False), mlp_ratio=3.0, qkv_bias=False,
                 post_layers=("ca", "ca"), use_aux_head=True, pooling_scale=2, **D1)
    if with_persons:
        model.patch_embed = FaceBodyPatchEmbed(img_size, hidden=64, embed_dim=D1["embed_dims"][0])
    return model


def load_checkpoint_dict(path: Path) -> dict:
    """``torch.load(weights_only=True)``: tensors and plain containers only, never arbitrary code."""
    if not path.is_file():
        raise UserError(f"MiVOLO checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"MiVOLO checkpoint is empty: {path}")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if found is None and not zipfile.is_zipfile(path):
            raise UserError(f"cannot read MiVOLO checkpoint {path}: not a torch file") from None
        what = f"it references {found.group(1)}" if found else "it holds objects other than tensors"
        raise UserError(f"{path} is not a plain MiVOLO checkpoint: {what}; loading it would need arbitrary "
                        "unpickling, which we refuse (a detector .pt goes to --detector-weights)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"cannot read MiVOLO checkpoint {path}: {str(exc).splitlines()[0]} (truncated or not a "
                        "torch file?)") from None
    return data


@dataclass
class MiVOLOMeta:
    min_age: float
    max_age: float
    avg_age: float
    only_age: bool
    with_persons_model: bool
    input_size: int


def parse_checkpoint(data: object, path: Path) -> tuple[MiVOLOMeta, dict[str, torch.Tensor]]:
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a MiVOLO checkpoint (expected a dict, got {type(data).__name__})")
    missing = [k for k in ("min_age", "max_age", "avg_age", "no_gender") if k not in data]
    weights_key = next((k for k in ("state_dict_ema", "model_ema", "state_dict", "model")
                        if isinstance(data.get(k), dict)), None)
    if missing or weights_key is None:
        raise UserError(f"{path} is not a MiVOLO checkpoint: missing {', '.join(missing) or 'state_dict'} "
                        "(a detector or another model's weights?)")
    state = {k.removeprefix("module."): v for k, v in data[weights_key].items() if not k.startswith("fds.")}
    if "pos_embed" not in state:
        raise UserError(f"{path}: state_dict has no pos_embed; not a MiVOLO/VOLO model")
    with_persons = bool(data["with_persons_model"]) if "with_persons_model" in data else \
        "patch_embed.conv1.0.weight" in state
    meta = MiVOLOMeta(min_age=float(data["min_age"]), max_age=float(data["max_age"]), avg_age=float(data["avg_age"]),
                      only_age=bool(data["no_gender"]), with_persons_model=with_persons,
                      input_size=int(state["pos_embed"].shape[1]) * 16)
    return meta, state


class MiVOLO:
    """A loaded MiVOLO checkpoint. ``predict(image_bgr, face_xyxy, person_xyxy) -> (ages, male_probs)``."""

    def __init__(self, path: str | Path, device: str = "cpu", half: bool = False, with_persons: bool | None = None,
                 disable_faces: bool = False, compile_model: bool = False) -> None:
        """``with_persons``: read body crops (True: asked for, a warning when the checkpoint reads faces only;
        None: when the checkpoint can; False: never)."""
        path = Path(path)
        self.meta, state = parse_checkpoint(load_checkpoint_dict(path), path)
        meta = self.meta
        if disable_faces and not meta.with_persons_model:
            raise UserError("--disable-faces needs a face+body MiVOLO checkpoint; this one reads faces only")
        self.use_persons = with_persons is not False and meta.with_persons_model
        if with_persons and not meta.with_persons_model:
            log.warning("--with-persons needs a face+body MiVOLO checkpoint; %s reads faces only, so body crops are "
                        "not used", path.name)
        if disable_faces and not self.use_persons:
            raise UserError("--disable-faces without --with-persons leaves nothing to read: add --with-persons")
        self.use_faces = not disable_faces or not meta.with_persons_model
        self.device = torch.device(device)
        self.half = half and self.device.type == "cuda"
        self.input_size = meta.input_size
        num_classes = 1 if meta.only_age else 3
        model = build_network(meta.input_size, meta.with_persons_model, num_classes)
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            shown = (result.missing_keys + result.unexpected_keys)[:3]
            raise UserError(f"{path}: weights do not fit MiVOLO-D1 {meta.input_size} "
                            f"({'face+body' if meta.with_persons_model else 'face'}): "
                            f"{len(result.missing_keys)} missing, {len(result.unexpected_keys)} unexpected, "
                            f"e.g. {', '.join(shown)}")
        model.eval().to(self.device)
        if self.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        if self.half:
            model = model.half()
        self.model = torch.compile(model) if compile_model else model
        self.param_count = sum(p.numel() for p in model.parameters())
        log.info("MiVOLO-D1 %d %s loaded (%.1fM parameters)", meta.input_size,
                 "face+body" if meta.with_persons_model else "face", self.param_count / 1e6)

    def _tensor(self, crops: list[np.ndarray | None]) -> torch.Tensor:
        return torch.from_numpy(network_input(crops, self.input_size))

    def crops(self, image: np.ndarray, face_xyxy: np.ndarray, person_xyxy: np.ndarray,
              all_faces: np.ndarray | None = None, all_persons: np.ndarray | None = None
              ) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
        """Face and body crops of N rows ((N, 4) boxes, NaN rows = none); ``all_*``: every face and person box of
        the frame (what a body crop blacks out), by default the rows' own boxes."""
        face_xyxy = np.asarray(face_xyxy, dtype=np.float64).reshape(-1, 4)
        person_xyxy = np.asarray(person_xyxy, dtype=np.float64).reshape(-1, 4)
        has_face = ~np.isnan(face_xyxy).any(axis=1)
        has_person = ~np.isnan(person_xyxy).any(axis=1)
        frame_faces = face_xyxy[has_face] if all_faces is None else np.asarray(all_faces, np.float64).reshape(-1, 4)
        frame_persons = person_xyxy[has_person] if all_persons is None else \
            np.asarray(all_persons, np.float64).reshape(-1, 4)
        faces_int = int_boxes(frame_faces)
        face_crops: list[np.ndarray | None] = []
        body_crops: list[np.ndarray | None] = []
        for row in range(len(face_xyxy)):
            use_face = self.use_faces and has_face[row]
            face_crops.append(face_crop(image, int_boxes(face_xyxy[row])[0]) if use_face else None)
            body = None
            if self.use_persons and has_person[row]:
                same = np.flatnonzero((frame_persons == person_xyxy[row]).all(axis=1))
                others = np.delete(frame_persons, same[:1], axis=0)  # the frame's other persons
                body = person_crop(image, int_boxes(person_xyxy[row])[0], int_boxes(others), faces_int)
            body_crops.append(body)
        return face_crops, body_crops

    @torch.inference_mode()
    def predict(self, image_bgr: np.ndarray, face_xyxy: np.ndarray, person_xyxy: np.ndarray,
                all_faces: np.ndarray | None = None, all_persons: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Ages (years) and P(male) for N face/person box pairs; NaN rows mark a missing crop."""
        face_crops, body_crops = self.crops(image_bgr, face_xyxy, person_xyxy, all_faces, all_persons)
        return self.predict_crops(face_crops, body_crops)

    @torch.inference_mode()
    def predict_crops(self, face_crops: list[np.ndarray | None], body_crops: list[np.ndarray | None]
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Ages and P(male) for prepared BGR crops (None = missing), all in one batch."""
        n = len(face_crops)
        if n == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        inputs = self._tensor(face_crops)
        if self.meta.with_persons_model:
            inputs = torch.cat([inputs, self._tensor(body_crops)], dim=1)
        inputs = inputs.to(self.device)
        if self.device.type == "cuda":
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if self.half:
            inputs = inputs.half()
        output = self.model(inputs).float().cpu()
        meta = self.meta
        age_column = output[:, 0] if meta.only_age else output[:, 2]
        ages = (age_column * (meta.max_age - meta.min_age) + meta.avg_age).numpy().astype(np.float32)
        male = np.full(n, np.nan, np.float32) if meta.only_age else \
            output[:, :2].softmax(-1)[:, 0].numpy().astype(np.float32)
        nothing = np.array([f is None and b is None for f, b in zip(face_crops, body_crops, strict=True)])
        ages[nothing] = np.nan
        male[nothing] = np.nan
        return ages, male


def load_mivolo(path: str | Path, device: str = "cpu", half: bool = False, with_persons: bool | None = None,
                disable_faces: bool = False) -> MiVOLO:
    return MiVOLO(path, device=device, half=half, with_persons=with_persons, disable_faces=disable_faces)


def save_random_checkpoint(path: str | Path, with_persons: bool, img_size: int = 224, only_age: bool = False,
                           seed: int = 0) -> Path:
    """A random-init MiVOLO-D1 checkpoint in the official file format (for tests and benchmarks)."""
    torch.manual_seed(seed)
    model = build_network(img_size, with_persons, 1 if only_age else 3)
    path = Path(path)
    torch.save({"state_dict": model.state_dict(), "min_age": 1.0, "max_age": 95.0, "avg_age": 36.7,
                "no_gender": only_age, "with_persons_model": with_persons}, path)
    return path
