"""Person Re-ID weights that really exist, with where they come from and what they were measured to do.

Figures are the torchreid model zoo's (Zhou & Xiang, "Torchreid", arXiv:1910.10093) and, for CLIP-ReID, the
paper's (Li et al., arXiv:2211.13977, ViT-B/16 without SIE/OLP or re-ranking): rank-1 / mAP in %, single query,
on the test split of ``evaluated_on``; parameters and GFLOPs at 256x128 (CLIP-ReID: image encoder only).
Download addresses: the ones boxmot 25 uses; CLIP-ReID's from its authors' README. Upstream publishes no
checksums: ``sha256`` stays None here, and the first download's
hash is recorded in the cache and checked from then on (``setup_reid_models.py --verify``).
"""

from __future__ import annotations

from dataclasses import dataclass

DRIVE = "https://drive.google.com/uc?export=download&id="
BOXMOT_RELEASE = "https://github.com/mikel-brostrom/boxmot/releases/download/v21.0.0/"


@dataclass(frozen=True)
class ReIDModel:
    name: str  # catalog name = file stem (boxmot picks the architecture from it)
    arch: str
    trained_on: str
    dim: int  # embedding size
    params_m: float | None
    gflops: float | None
    evaluated_on: str | None
    rank1: float | None
    mAP: float | None
    url: str
    sha256: str | None = None
    size_bytes: int | None = None
    backend: str = "boxmot"  # who loads it: boxmot (.pt), clip (our CLIP-ReID on open_clip, .pth)
    licence: str = "MIT (torchreid weights)"

    @property
    def filename(self) -> str:
        return f"{self.name}.pth" if self.backend == "clip" else f"{self.name}.pt"


def _osnet(width: str, params: float, gflops: float, market: tuple[float, float], duke: tuple[float, float],
           ids: dict[str, str]) -> list[ReIDModel]:
    arch = f"osnet_x{width}"
    return [
        ReIDModel(f"{arch}_market1501", arch, "market1501", 512, params, gflops, "market1501", *market,
                  DRIVE + ids["market1501"]),
        ReIDModel(f"{arch}_dukemtmcreid", arch, "dukemtmcreid", 512, params, gflops, "dukemtmcreid", *duke,
                  DRIVE + ids["dukemtmcreid"]),
        ReIDModel(f"{arch}_msmt17", arch, "msmt17", 512, params, gflops, None, None, None, DRIVE + ids["msmt17"]),
    ]


CATALOG: tuple[ReIDModel, ...] = (
    *_osnet("0_25", 0.2, 0.08, (91.2, 75.0), (82.0, 61.4),
            {"market1501": "1z1UghYvOTtjx7kEoRfmqSMu-z62J6MAj", "dukemtmcreid": "1eumrtiXT4NOspjyEV4j8cHmlOaaCGk5l",
             "msmt17": "1sSwXSUlj4_tHZequ_iZ8w_Jh0VaRQMqF"}),
    *_osnet("0_5", 0.6, 0.27, (92.5, 79.8), (85.1, 67.4),
            {"market1501": "1PLB9rgqrUM7blWrg4QlprCuPT7ILYGKT", "dukemtmcreid": "1KoUVqmiST175hnkALg9XuTi1oYpqcyTu",
             "msmt17": "1UT3AxIaDvS2PdxzZmbkLmjtiqq7AIKCv"}),
    *_osnet("0_75", 1.3, 0.57, (93.7, 81.2), (85.8, 69.8),
            {"market1501": "1ozRaDSQw_EQ8_93OUmjDbvLXw9TnfPer", "dukemtmcreid": "1IE3KRaTPp4OUa6PGTFL_d5_KQSJbP0Or",
             "msmt17": "1QEGO6WnJ-BmUzVPd3q9NoaO_GsPNlmWc"}),
    *_osnet("1_0", 2.2, 0.98, (94.2, 82.6), (87.0, 70.2),
            {"market1501": "1vduhq5DpN2q1g4fYEZfPI17MJeh9qyrA", "dukemtmcreid": "1QZO_4sNf4hdOKKKzKc-TZU9WW1v6zQbq",
             "msmt17": "112EMUfBPYeYg70w-syK6V6Mx8-Qb9Q1M"}),
    ReIDModel("osnet_ain_x1_0_msmt17", "osnet_ain_x1_0", "msmt17 (all)", 512, 2.2, 0.98, "market1501 (cross-domain)",
              70.1, 43.3, DRIVE + "1SigwBE6mPdqiJMqhuIY4aqC7--5CsMal"),
    ReIDModel("osnet_ibn_x1_0_msmt17", "osnet_ibn_x1_0", "msmt17 (all)", 512, 2.2, 0.98, "market1501 (cross-domain)",
              66.5, 37.2, DRIVE + "1q3Sj2ii34NlfxA4LvmHdWO_75NDRmECJ"),
    ReIDModel("mobilenetv2_x1_0_market1501", "mobilenetv2_x1_0", "market1501", 1280, 2.2, 0.2, "market1501",
              85.6, 67.3, DRIVE + "18DgHC2ZJkjekVoqBWszD8_Xiikz-fewp"),
    ReIDModel("mobilenetv2_x1_4_market1501", "mobilenetv2_x1_4", "market1501", 1792, 4.3, 0.4, "market1501",
              87.0, 68.5, DRIVE + "1t6JCqphJG-fwwPVkRLmGGyEBhGOf2GO5"),
    ReIDModel("resnet50_market1501", "resnet50", "market1501", 2048, 23.5, 2.7, "market1501", 87.9, 70.4,
              DRIVE + "1dUUZ4rHDWohmsQXCRe2C_HbYkzz94iBV"),
    ReIDModel("resnet50_fc512_market1501", "resnet50_fc512", "market1501", 512, 24.6, 4.1, "market1501", 90.8, 75.3,
              DRIVE + "1kv8l5laX_YCdIGVCetjlNdzKIA3NvsSt"),
    ReIDModel("mlfn_market1501", "mlfn", "market1501", 1024, 32.5, 2.8, "market1501", 90.1, 74.3,
              DRIVE + "1wXcvhA_b1kpDfrt9s2Pma-MHxtj9pmvS"),
    ReIDModel("clip_vit_b16_market1501", "clip_reid_vit_b16", "market1501", 1280, 86.2, None, "market1501", 95.7, 89.8,
              DRIVE + "1GnyAVeNOg3Yug1KBBWMKKbT2x43O5Ch7", backend="clip", licence="MIT (CLIP-ReID)"),
    ReIDModel("clip_vit_b16_msmt17", "clip_reid_vit_b16", "msmt17", 1280, 86.2, None, "msmt17", 88.7, 73.4,
              DRIVE + "1BVaZo93kOksYLjFNH3Gf7JxIbPlWSkcO", backend="clip", licence="MIT (CLIP-ReID)"),
    ReIDModel("lmbn_n_market", "lmbn_n", "market1501", 512, None, None, None, None, None,
              BOXMOT_RELEASE + "lmbn_n_market.pt", licence="MIT (LightMBN)"),
    ReIDModel("lmbn_n_duke", "lmbn_n", "dukemtmcreid", 512, None, None, None, None, None,
              BOXMOT_RELEASE + "lmbn_n_duke.pt", licence="MIT (LightMBN)"),
)

BY_NAME = {model.name: model for model in CATALOG}


def find(name: str) -> ReIDModel | None:
    """A catalog entry by name; an architecture alone (``osnet_x0_25``) means its Market1501 weights."""
    key = name.strip().removesuffix(".pth").removesuffix(".pt").removesuffix(".onnx")
    return BY_NAME.get(key) or BY_NAME.get(f"{key}_market1501")
