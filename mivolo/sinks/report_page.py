"""The report's HTML: one self-contained page (inline CSS, inline SVG charts, crops as small base64 JPEGs, a few
lines of script to sort the gallery). A Content-Security-Policy forbids every fetch: the page works offline and
as an e-mail attachment, and cannot reach the network even if someone edits it."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import cv2
import numpy as np

from mivolo.sinks.report_accuracy import Accuracy
from mivolo.sinks.report_data import UNKNOWN, Headline, ReportData, dwell_s

THUMB_W, THUMB_H = 120, 160  # gallery thumbnails fit in this box (pixels)
THUMB_QUALITY = 70
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")

CSS = """
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#e2e4e8;--bg:#f6f7f9;--men:#0072b2;--women:#d55e00;--unk:#999}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:16px}header h1{margin:.2em 0;font-size:1.6em}
.sub{color:var(--muted);margin:0 0 12px}h2{font-size:1.15em;margin:24px 0 8px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px}
.tile{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px}
.tile .value{display:block;font-size:1.9em;font-weight:650;line-height:1.1}
.tile .label{color:var(--muted);font-size:.9em}.tile.men .value{color:var(--men)}
.tile.women .value{color:var(--women)}.tile.unknown .value{color:#6b6b6b}
.panel{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--muted);font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:10px;padding:8px}
svg.chart{display:block;width:100%;height:auto}
.sort{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-bottom:10px}
.sort button{font:inherit;padding:5px 12px;border-radius:16px;border:1px solid var(--line);background:#fff;
cursor:pointer}.sort button[aria-pressed="true"]{background:var(--fg);color:#fff;border-color:var(--fg)}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:8px;font-size:.88em}
.card .pic{height:160px;display:flex;align-items:center;justify-content:center;background:#eef0f3;
border-radius:6px;overflow:hidden}.card img{width:auto;height:auto;max-width:100%;max-height:160px;min-height:110px;
object-fit:contain}
.card svg.silhouette{height:120px;width:auto}
.card h3{margin:6px 0 2px;font-size:1.05em}.card p{margin:0;color:var(--muted)}
.g-male{color:var(--men)}.g-female{color:var(--women)}.g-unknown{color:#6b6b6b}
footer{color:var(--muted);font-size:.85em;margin:24px 0}
@media (max-width:520px){main{padding:10px}.tile .value{font-size:1.5em}
.gallery{grid-template-columns:repeat(2,minmax(0,1fr))}
table.models tr,table.models td{display:block;border:0;padding:1px 4px}table.models tr:first-child{display:none}
table.models tr{border-bottom:1px solid var(--line);padding:6px 0}table.models td:first-child{font-weight:600}}
"""

SCRIPT = """
(function(){var g=document.getElementById('gallery');if(!g)return;
var order={time:1,age:1,dwell:-1};
function sort(key){var cards=Array.prototype.slice.call(g.children);
cards.sort(function(a,b){var x=parseFloat(a.dataset[key]),y=parseFloat(b.dataset[key]);
if(isNaN(x)&&isNaN(y))return a.dataset.id-b.dataset.id;if(isNaN(x))return 1;if(isNaN(y))return -1;
return order[key]*(x-y)||a.dataset.id-b.dataset.id;});
cards.forEach(function(c){g.appendChild(c);});
document.querySelectorAll('[data-sort]').forEach(function(b){
b.setAttribute('aria-pressed',String(b.dataset.sort===key));});}
document.querySelectorAll('[data-sort]').forEach(function(b){
b.addEventListener('click',function(){sort(b.dataset.sort);});});})();
"""

SILHOUETTE = ('<svg class="silhouette" viewBox="0 0 60 80" role="img" aria-label="no picture kept">'
              '<circle cx="30" cy="22" r="13" fill="#b8bcc4"/>'
              '<path d="M6 80c0-17 10-30 24-30s24 13 24 30z" fill="#b8bcc4"/></svg>')


def clock(seconds: float | None) -> str:
    """Seconds as m:ss.s (h:mm:ss from an hour on); an em dash when unknown."""
    if seconds is None:
        return "–"
    if seconds >= 3600:
        whole = int(round(seconds))
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def duration(seconds: float | None) -> str:
    """A length for people: 12.3 s under a minute, else m:ss (h:mm:ss)."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def thumbnail(path: Path) -> tuple[str, int, int] | None:
    """A crop as a small base64 JPEG data URI that fits THUMB_W x THUMB_H: (uri, width, height); None if unreadable."""
    image = cv2.imread(str(path))
    if image is None:
        return None
    h, w = image.shape[:2]
    scale = min(THUMB_W / w, THUMB_H / h, 1.0)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else image
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode(), size[0], size[1]


def _tiles(head: Headline) -> str:
    tiles = [("total-people", "people counted (identities)", str(head.people), "")]
    if head.people_estimate is not None:  # identities the tracker lost and found again counted once
        tiles.append(("people-estimate", "people, lost-and-found counted once (estimate)", str(head.people_estimate),
                      ""))
    tiles += [("men", "men", str(head.men), "men"), ("women", "women", str(head.women), "women"),
              ("unknown", "gender unknown", str(head.unknown), "unknown"),
              ("median-dwell", "median dwell", duration(head.median_dwell_s), ""),
              ("video-length", "video analysed", duration(head.video_s), "")]
    return tiles_html(tiles)


def _estimate_note(data: ReportData) -> str:
    """One sentence on the people estimate, when it differs from the identity count."""
    estimate = data.people_estimate or {}
    if not estimate.get("refound"):
        return ""
    return (f'<p class="sub" id="estimate-note">{estimate["identities"]} identities, about {estimate["people"]} '
            f'people: {estimate["refound"]} of them appeared mid-picture shortly after and close to where another '
            "vanished, and count as people found again (people enter and leave across the picture's edges). The "
            "rows below stay apart; where people really come out of a door mid-picture the estimate is too low.</p>")


def tiles_html(tiles: list[tuple[str, str, str, str]]) -> str:
    """The headline tiles: (element id, label, value, css class) each."""
    return "".join(f'<div class="tile {cls}"><span class="value" id="{key}">{escape(value)}</span>'
                   f'<span class="label">{escape(label)}</span></div>' for key, label, value, cls in tiles)


def _estimate(row: dict) -> str:
    if row.get("estimate") is None:
        return "–"
    return f"{row['estimate']} ({_pct(row.get('estimate_error_pct'))})"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def _counting_table(accuracy: Accuracy, tracker: str) -> str:
    if not accuracy.counting:
        return "<p>No real-footage measurement of this detector stack (<code>python -m benchmarks.real</code>).</p>"
    head = "<tr><th>clip</th><th>people</th><th>counted</th><th>count error</th><th>people estimate (error)</th>" \
           "<th>HOTA</th><th>IDF1</th><th>gender right / wrong / unknown</th></tr>"
    body = []
    for row in accuracy.counting:
        gender = row["gender"]
        gender_text = "–" if gender is None else f"{gender['right']} / {gender['wrong']} / {gender['unknown']}"
        body.append(f"<tr><td>{escape(str(row['clip']))}</td><td>{row['people']}</td><td>{row['counted']}</td>"
                    f"<td>{_pct(row['count_error_pct'])}</td><td>{_estimate(row)}</td><td>{_num(row['HOTA'])}</td>"
                    f"<td>{_num(row['IDF1'])}</td>"
                    f"<td>{gender_text}</td></tr>")
    measured = str(accuracy.counting[0]["tracker"])
    differs = f" This run used {escape(tracker)}: its counts may differ." if tracker != measured else ""
    return (f"<p>Counting on real footage with ground truth, same detectors, tracker {escape(measured)} "
            f"({escape(accuracy.counting_source)}).{differs}</p>"
            f"<table>{head}{''.join(body)}</table>")


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _gate_text(gate: dict | None) -> str:
    """What the face gate let through on labelled faces of real video (benchmarks/results/face_gate.json)."""
    if not gate:
        return ""
    parts = [f"{name} {gate[key]['accepted_pct']:g} % of {gate[key]['n']}" for key, name in
             (("face", "real faces"), ("back", "backs of heads"), ("profile", "profiles"), ("other", "non-faces"))
             if key in gate]
    return "accepted on real video: " + ", ".join(parts) + " (benchmarks/results/face_gate.json)"


def _models(data: ReportData, accuracy: Accuracy) -> str:
    models = data.run.get("models") or {}
    tracker = ((data.run.get("tracker") or {}).get("config")) or "–"
    age = accuracy.age_gender
    age_text = (f"age error {age['age_mae']:.2f} years (mean absolute), gender right {age['gender_accuracy']:.1f} % "
                f"on {age['evaluated']} labelled faces ({escape(accuracy.age_gender_source)})") if age else \
        "not measured here (<code>eval_pretrained.py</code>)"
    rows = [("persons", models.get("persons"), "see the counting table below"),
            ("faces", models.get("faces"), ""), ("age / gender", models.get("age_gender"), age_text),
            ("face gate", models.get("face_gate"), _gate_text(accuracy.face_gate)),
            ("tracker", Path(str(tracker)).name, ""),
            ("face signatures (merging, kept in memory only)", models.get("face_embeddings"), "")]
    body = "".join(f"<tr><td>{escape(role)}</td><td>{escape(str(name or '–'))}</td><td>{note}</td></tr>"
                   for role, name, note in rows)
    return (f'<div class="panel"><table class="models"><tr><th>role</th><th>model</th><th>measured accuracy</th>'
            f"</tr>{body}</table>{_counting_table(accuracy, Path(str(tracker)).name)}</div>")


def _card(data: ReportData, row: dict, pictures: bool) -> str:
    gender = row.get("gender") or UNKNOWN
    age = row.get("age")
    picture = thumbnail(data.folder / row["best_crop"]) if pictures and row.get("best_crop") else None
    if picture is None:
        pic = SILHOUETTE
    else:
        uri, w, h = picture
        pic = f'<img src="{uri}" width="{w}" height="{h}" alt="best crop of person {row["id"]}">'
    age_text = UNKNOWN if age is None else f"{age:.0f}"
    return (f'<article class="card" data-id="{row["id"]}" data-time="{row["first_seen_s"]}" '
            f'data-age="{"" if age is None else age}" data-dwell="{dwell_s(row):.3f}" data-gender="{gender}">'
            f'<div class="pic">{pic}</div><h3>#{row["id"]}</h3>'
            f'<p><span class="gender g-{gender}">{gender}</span>{" gender" if gender == UNKNOWN else ""}, '
            f'age <span class="age">{age_text}</span></p>'
            f'<p>seen {clock(row["first_seen_s"])} – {clock(row["last_seen_s"])}</p>'
            f'<p>dwell <span class="dwell">{duration(dwell_s(row))}</span></p></article>')


def _gallery(data: ReportData) -> str:
    pictures = data.privacy != "strict"
    rows = sorted(data.identities, key=lambda r: (float(r["first_seen_s"]), r["id"]))
    note = "" if pictures else "<p>Privacy level strict: no pictures of people were kept.</p>"
    buttons = "".join(f'<button type="button" data-sort="{key}" aria-pressed="{str(key == "time").lower()}">'
                      f"{label}</button>" for key, label in (("time", "first seen"), ("age", "age"),
                                                             ("dwell", "dwell time")))
    cards = "".join(_card(data, row, pictures) for row in rows)
    return f'{note}<div class="sort">Sort by {buttons}</div><div id="gallery" class="gallery">{cards}</div>'


def page(data: ReportData, head: Headline, accuracy: Accuracy, charts: list[str]) -> str:
    """The whole report as one HTML document."""
    name = escape(data.source_name)
    frames = f"{head.frames} frames" if head.frames is not None else "frames unknown"
    fps = f" at {head.fps:g} fps" if head.fps else ""
    figures = "".join(f"<figure>{svg}</figure>" for svg in charts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>Crowd report: {name}</title><style>{CSS}</style></head>
<body><main>
<header><h1>Crowd report: {name}</h1>
<p class="sub">{frames}{fps} · privacy level <b id="privacy">{escape(data.privacy)}</b></p></header>
<section class="tiles" aria-label="totals">{_tiles(head)}</section>{_estimate_note(data)}
<h2>Models and their measured accuracy</h2>{_models(data, accuracy)}
<h2>Over time</h2><section class="charts">{figures}</section>
<h2>People</h2>{_gallery(data)}
<footer><p>One row per person (identity), not per detection. <b>Unknown</b> means the video did not show enough
good, agreeing views of the face to give a gender or an age honestly; unknowns are counted, never guessed.
Dwell time is the time from a person's first to last sighting. Ages and genders are estimates from faces
(see the measured accuracy above).</p></footer>
</main><script>{SCRIPT}</script></body></html>
"""


def genders(data: ReportData) -> np.ndarray:
    """(N,) 0 men, 1 women, 2 unknown gender, in the order of ``data.identities``."""
    return np.array([{"male": 0, "female": 1}.get(r.get("gender") or "", 2) for r in data.identities], dtype=np.int64)
