"""YOLOX (Megvii) in PyTorch for official ``.pth`` checkpoints: COCO person detectors (yolox_s/m/l/x/tiny/nano)
and one-class face detectors, as the crowd pipelines use them.

The network is written here (no maintained YOLOX package installs cleanly with our torch): CSPDarknet backbone,
PAFPN neck and the decoupled head, with the official module names so ``ckpt["model"]`` loads strictly. Depth,
width, depthwise convolutions and the class count are read from the checkpoint's tensors, so no experiment name
is needed. Inference matches the official preprocessing: letterbox to the top-left, grey (114) padding, BGR 0-255.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mivolo.core.errors import UserError

log = logging.getLogger(__name__)
STRIDES = (8, 16, 32)
EXPERIMENTS = {"yolox_nano": (0.33, 0.25, True), "yolox_tiny": (0.33, 0.375, False), "yolox_s": (0.33, 0.50, False),
               "yolox_m": (0.67, 0.75, False), "yolox_l": (1.0, 1.0, False), "yolox_x": (1.33, 1.25, False)}


class BaseConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, s: int, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, s: int = 1) -> None:
        super().__init__()
        self.dconv = BaseConv(cin, cin, k, s, groups=cin)
        self.pconv = BaseConv(cin, cout, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def _conv(depthwise: bool):
    return DWConv if depthwise else BaseConv


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, shortcut: bool, depthwise: bool) -> None:
        super().__init__()
        self.conv1 = BaseConv(cin, cout, 1, 1)
        self.conv2 = _conv(depthwise)(cout, cout, 3, 1)
        self.use_add = shortcut and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True, depthwise: bool = False) -> None:
        super().__init__()
        hidden = int(cout * 0.5)
        self.conv1 = BaseConv(cin, hidden, 1, 1)
        self.conv2 = BaseConv(cin, hidden, 1, 1)
        self.conv3 = BaseConv(2 * hidden, cout, 1, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, hidden, shortcut, depthwise) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.cat((self.m(self.conv1(x)), self.conv2(x)), dim=1))


class SPPBottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, sizes: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = cin // 2
        self.conv1 = BaseConv(cin, hidden, 1, 1)
        self.m = nn.ModuleList([nn.MaxPool2d(k, 1, k // 2) for k in sizes])
        self.conv2 = BaseConv(hidden * (len(sizes) + 1), cout, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.m], dim=1))


class Focus(nn.Module):
    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.conv = BaseConv(cin * 4, cout, k, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), 1))


class CSPDarknet(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool) -> None:
        super().__init__()
        c, d = int(width * 64), max(round(depth * 3), 1)
        conv = _conv(depthwise)
        self.stem = Focus(3, c, 3)
        self.dark2 = nn.Sequential(conv(c, c * 2, 3, 2), CSPLayer(c * 2, c * 2, d, depthwise=depthwise))
        self.dark3 = nn.Sequential(conv(c * 2, c * 4, 3, 2), CSPLayer(c * 4, c * 4, d * 3, depthwise=depthwise))
        self.dark4 = nn.Sequential(conv(c * 4, c * 8, 3, 2), CSPLayer(c * 8, c * 8, d * 3, depthwise=depthwise))
        self.dark5 = nn.Sequential(conv(c * 8, c * 16, 3, 2), SPPBottleneck(c * 16, c * 16),
                                   CSPLayer(c * 16, c * 16, d, shortcut=False, depthwise=depthwise))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x3 = self.dark3(self.dark2(self.stem(x)))
        x4 = self.dark4(x3)
        return x3, x4, self.dark5(x4)


class PAFPN(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool) -> None:
        super().__init__()
        self.backbone = CSPDarknet(depth, width, depthwise)
        c0, c1, c2 = (int(c * width) for c in (256, 512, 1024))
        n = round(3 * depth)
        conv = _conv(depthwise)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = BaseConv(c2, c1, 1, 1)
        self.C3_p4 = CSPLayer(2 * c1, c1, n, False, depthwise)
        self.reduce_conv1 = BaseConv(c1, c0, 1, 1)
        self.C3_p3 = CSPLayer(2 * c0, c0, n, False, depthwise)
        self.bu_conv2 = conv(c0, c0, 3, 2)
        self.C3_n3 = CSPLayer(2 * c0, c1, n, False, depthwise)
        self.bu_conv1 = conv(c1, c1, 3, 2)
        self.C3_n4 = CSPLayer(2 * c1, c2, n, False, depthwise)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat([self.upsample(fpn_out0), x1], 1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat([self.upsample(fpn_out1), x2], 1))
        pan_out1 = self.C3_n3(torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1))
        pan_out0 = self.C3_n4(torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1))
        return pan_out2, pan_out1, pan_out0


class Head(nn.Module):
    def __init__(self, num_classes: int, width: float, depthwise: bool) -> None:
        super().__init__()
        hidden = int(256 * width)
        conv = _conv(depthwise)
        self.stems = nn.ModuleList([BaseConv(int(c * width), hidden, 1, 1) for c in (256, 512, 1024)])
        self.cls_convs = nn.ModuleList([nn.Sequential(conv(hidden, hidden, 3, 1), conv(hidden, hidden, 3, 1))
                                        for _ in STRIDES])
        self.reg_convs = nn.ModuleList([nn.Sequential(conv(hidden, hidden, 3, 1), conv(hidden, hidden, 3, 1))
                                        for _ in STRIDES])
        self.cls_preds = nn.ModuleList([nn.Conv2d(hidden, num_classes, 1) for _ in STRIDES])
        self.reg_preds = nn.ModuleList([nn.Conv2d(hidden, 4, 1) for _ in STRIDES])
        self.obj_preds = nn.ModuleList([nn.Conv2d(hidden, 1, 1) for _ in STRIDES])

    def forward(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Raw head output as the official ONNX export: [B, anchors, 4 box + objectness + classes]."""
        outputs = []
        for k, x in enumerate(features):
            x = self.stems[k](x)
            reg = self.reg_convs[k](x)
            out = torch.cat([self.reg_preds[k](reg), self.obj_preds[k](reg).sigmoid(),
                             self.cls_preds[k](self.cls_convs[k](x)).sigmoid()], 1)
            outputs.append(out.flatten(start_dim=2))
        return torch.cat(outputs, dim=2).permute(0, 2, 1)


class YOLOX(nn.Module):
    def __init__(self, depth: float, width: float, depthwise: bool, num_classes: int) -> None:
        super().__init__()
        self.backbone = PAFPN(depth, width, depthwise)
        self.head = Head(num_classes, width, depthwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def architecture_of(state: dict[str, torch.Tensor]) -> tuple[float, float, bool, int]:
    """(depth, width, depthwise, classes) from an official YOLOX state dict."""
    try:
        width = state["backbone.backbone.stem.conv.conv.weight"].shape[0] / 64
        blocks = {k.split(".")[5] for k in state if k.startswith("backbone.backbone.dark2.1.m.")}
        depthwise = any(".dconv." in k for k in state)
        classes = int(state["head.cls_preds.0.weight"].shape[0])
    except KeyError as exc:
        raise UserError(f"not a YOLOX checkpoint (missing {exc.args[0]})") from None
    depth = {1: 0.33, 2: 0.67, 3: 1.0, 4: 1.33}.get(len(blocks), len(blocks) / 3)
    return depth, width, depthwise, classes


def load_yolox(path: Path, device: str = "cpu") -> tuple[YOLOX, str]:
    """An official YOLOX ``.pth`` (``{"model": state_dict, ...}``) loaded with ``weights_only=True``."""
    if not path.is_file():
        raise UserError(f"YOLOX weights not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zips
        raise UserError(f"cannot read YOLOX checkpoint {path}: {str(exc).splitlines()[0][:160]}") from None
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise UserError(f"{path} is not a YOLOX checkpoint")
    if isinstance(data, dict) and "min_age" in data:
        raise UserError(f"{path} is a MiVOLO age/gender checkpoint: pass it with --checkpoint")
    try:
        depth, width, depthwise, classes = architecture_of(state)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    model = YOLOX(depth, width, depthwise, classes)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UserError(f"{path}: weights do not fit YOLOX (depth {depth}, width {width}): "
                        f"{len(result.missing_keys)} missing, {len(result.unexpected_keys)} unexpected")
    name = next((n for n, (d, w, dw) in EXPERIMENTS.items() if abs(d - depth) < 0.01 and abs(w - width) < 0.01
                 and dw == depthwise), f"yolox(d={depth},w={width})")
    return model.eval().to(device), name


class YoloxTorchDetector:
    """Boxes of one class (COCO person = 0, or the only class of a face model) from a YOLOX ``.pth``."""

    def __init__(self, path: Path, conf: float = 0.4, nms_iou: float = 0.45, size: int | None = None,
                 device: str = "cpu", half: bool = False) -> None:
        from mivolo.detection.onnx_models import yolox_grid

        self.model, arch = load_yolox(path, device)
        self.size = size or (416 if arch in ("yolox_nano", "yolox_tiny") else 640)
        self.device = device
        self.half = half and device.startswith("cuda")
        if self.half:
            self.model = self.model.half()
        self.grid, self.stride = yolox_grid(self.size, self.size)
        self.conf, self.nms_iou = conf, nms_iou
        self.name = f"{arch}:{path.name}"

    @torch.inference_mode()
    def raw(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        from mivolo.detection.onnx_models import yolox_letterbox

        blob, ratio = yolox_letterbox(image, self.size, self.size)
        tensor = torch.from_numpy(blob).to(self.device)
        out = self.model(tensor.half() if self.half else tensor)
        return out[0].float().cpu().numpy(), ratio

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from mivolo.detection.onnx_models import yolox_decode

        out, ratio = self.raw(image)
        return yolox_decode(out, self.grid, self.stride, ratio, image.shape, self.conf, self.nms_iou)


def save_random_yolox(path: str | Path, experiment: str = "yolox_nano", num_classes: int = 80, seed: int = 0) -> Path:
    """A random-init YOLOX checkpoint in the official file format (for tests)."""
    torch.manual_seed(seed)
    depth, width, depthwise = EXPERIMENTS[experiment]
    model = YOLOX(depth, width, depthwise, num_classes)
    path = Path(path)
    torch.save({"start_epoch": 300, "model": model.state_dict(), "best_ap": 0.0}, path)
    return path
