"""CLIP-ReID (Li et al., 2023) image encoder on open_clip's ViT-B/16, loading the CLIP-ReID checkpoint layout.

boxmot 25 dropped CLIP-ReID; this gives the trackers (and the identity stage) its embeddings through boxmot's
``reid_model`` hook (an object with ``get_features(boxes, image)``). A CLIP-ReID checkpoint is the state dict of
its training model: ``image_encoder.*`` is OpenAI CLIP's vision transformer (QuickGELU) with its position grid
resized to the 256x128 person crop (16 x 8 patches), plus heads we do not need. The test-time feature is the
class token after the final layer norm (768) joined with its projection (512): 1280 values, L2-normalised.
Crops: RGB, resized to 256x128, scaled to [-1, 1] (mean = std = 0.5).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from mivolo.core.errors import UserError

HEIGHT, WIDTH = 256, 128
PREFIX = "image_encoder."


def _vision_tower(grid: tuple[int, int], stride: int):
    import open_clip

    model = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None,
                                   force_image_size=(grid[0] * stride, grid[1] * stride))
    return model.visual


def is_clip_reid_checkpoint(path: Path) -> bool:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return False
    state = data.get("state_dict", data) if isinstance(data, dict) else {}
    return any(str(k).removeprefix("module.").startswith(PREFIX + "conv1") for k in state)


class CLIPReID:
    """``get_features(xyxy, image_bgr) -> (N, 1280)`` for person boxes."""

    name = "CLIP-ReID ViT-B/16"

    def __init__(self, path: str | Path, device: str = "cpu", half: bool = False) -> None:
        path = Path(path)
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"cannot read CLIP-ReID checkpoint {path}: {str(exc).splitlines()[0][:160]}") from None
        state = data.get("state_dict", data) if isinstance(data, dict) else {}
        visual = {k.removeprefix("module.")[len(PREFIX):]: v for k, v in state.items()
                  if str(k).removeprefix("module.").startswith(PREFIX)}
        if "conv1.weight" not in visual or "positional_embedding" not in visual:
            raise UserError(f"{path} is not a CLIP-ReID checkpoint (no image_encoder.* weights)")
        stride = int(visual["conv1.weight"].shape[-1])
        tokens = int(visual["positional_embedding"].shape[0]) - 1
        grid = (HEIGHT // stride, WIDTH // stride)
        if tokens != grid[0] * grid[1]:
            raise UserError(f"{path}: {tokens} patch positions do not fit 256x128 crops in non-overlapping "
                            f"{stride}-px patches (SIE/OLP variants with overlapping patches are not supported)")
        self.model = _vision_tower(grid, stride)
        result = self.model.load_state_dict(visual, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise UserError(f"{path}: image encoder does not fit ViT-B/16 ({len(result.missing_keys)} missing, "
                            f"{len(result.unexpected_keys)} unexpected weights)")
        self.size = (grid[1] * stride, grid[0] * stride)  # (width, height) of the crop
        self.device = torch.device(device)
        self.half = half and self.device.type == "cuda"
        self.model = self.model.eval().to(self.device)
        if self.half:
            self.model = self.model.half()
        self.dim = int(self.model.proj.shape[0] + self.model.proj.shape[1])

    def _crops(self, xyxy: np.ndarray, image: np.ndarray) -> torch.Tensor:
        height, width = image.shape[:2]
        batch = np.empty((len(xyxy), 3, self.size[1], self.size[0]), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.round(xyxy).astype(int)):
            x1, y1 = max(0, min(x1, width - 1)), max(0, min(y1, height - 1))
            x2, y2 = max(x1 + 1, min(x2, width)), max(y1 + 1, min(y2, height))
            crop = cv2.cvtColor(cv2.resize(image[y1:y2, x1:x2], self.size, interpolation=cv2.INTER_LINEAR),
                                cv2.COLOR_BGR2RGB)
            batch[i] = ((crop / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
        return torch.from_numpy(batch).to(self.device)

    @torch.inference_mode()
    def get_features(self, xyxy: np.ndarray, image: np.ndarray) -> np.ndarray:
        if len(xyxy) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = self._crops(np.asarray(xyxy, np.float32).reshape(-1, 4), image)
        if self.half:
            x = x.half()
        visual = self.model
        x = visual.conv1(x).flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
        x = visual.transformer(visual.ln_pre(x))
        x = visual.ln_post(x)
        token = x[:, 0]
        feature = torch.cat([token, token @ visual.proj], dim=1).float()
        feature = feature / feature.norm(dim=1, keepdim=True).clamp_min(1e-6)
        return feature.cpu().numpy()


def save_random_clip_reid(path: str | Path, num_classes: int = 751, seed: int = 0) -> Path:
    """A random-init CLIP-ReID checkpoint in the layout of the official training code (for tests)."""
    torch.manual_seed(seed)
    visual = _vision_tower((16, 8), 16)
    state = {PREFIX + k: v for k, v in visual.state_dict().items()}
    state.update({"classifier.weight": torch.zeros(num_classes, 768), "classifier_proj.weight":
                  torch.zeros(num_classes, 512), "bottleneck.weight": torch.ones(768), "bottleneck.bias":
                  torch.zeros(768), "bottleneck_proj.weight": torch.ones(512), "bottleneck_proj.bias": torch.zeros(512),
                  "prompt_learner.cls_ctx": torch.zeros(num_classes, 4, 512)})
    path = Path(path)
    torch.save(state, path)
    return path


def load_custom_reid(weights: Path, device: str = "cpu", half: bool = False) -> CLIPReID | None:
    """The Re-ID model for checkpoints boxmot cannot load itself (CLIP-ReID), else None (boxmot loads the file).

    Given to ``tracking.Tracker(reid_loader=...)`` by the pipeline: tracking never imports this package.
    """
    return CLIPReID(weights, device=device, half=half) if is_clip_reid_checkpoint(weights) else None
