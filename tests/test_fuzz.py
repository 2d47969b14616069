"""Property tests: the config loader never fails with anything but a UserError; the writers round-trip."""

import csv
import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mivolo.core.config import PipelineConfig, apply_mapping
from mivolo.core.errors import UserError
from mivolo.core.run import RunInfo, RunSummary, SourceInfo
from mivolo.core.structures import PERSON, Detections, Frame, Label
from mivolo.sinks.demographics import AGE_GROUPS, DemographicsSink
from mivolo.sinks.identities import IDENTITY_COLUMNS, IdentitiesSink

SECTIONS = ["source", "detector", "estimator", "tracker", "settle", "output", "runtime", "nonsense"]
KEYS = ["input", "fps", "person_conf", "weights", "mode", "smoothing_window", "merge", "dir", "threads", "tile",
        "json_interval_s", "unknown_key", "max_frames"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20), st.lists(st.integers(), max_size=3))
MAPPINGS = st.dictionaries(st.sampled_from(SECTIONS) | st.text(max_size=8),
                           st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), SCALARS, max_size=5) | SCALARS,
                           max_size=4)


@settings(max_examples=300, deadline=None)
@given(MAPPINGS)
def test_config_loader_accepts_or_names_the_problem(mapping):
    try:
        config = apply_mapping(PipelineConfig(), mapping)
    except UserError as exc:  # the message names the section or key at fault
        message = str(exc)
        named = [repr(s) for s in mapping] + [f"{s}.{k}" for s, v in mapping.items() if isinstance(v, dict) for k in v]
        assert "expected a mapping" in message or any(name in message for name in named), message
        return
    for section, values in mapping.items():
        for key, value in values.items():
            got = getattr(getattr(config, section), key)
            if isinstance(value, bool) or value is None:
                assert got == value
            elif isinstance(value, int | float) and isinstance(got, float):
                assert got == value or (math.isnan(got) and math.isnan(value))


ROWS = st.lists(st.fixed_dictionaries({
    "id": st.integers(1, 10**6),
    "age": st.one_of(st.none(), st.floats(0, 120).map(lambda a: round(a, 1))),
    "gender": st.sampled_from(["male", "female", None]),
    "confidence": st.floats(0, 1).map(lambda c: round(c, 3)),
    "first_seen_s": st.floats(0, 1e5).map(lambda t: round(t, 3)),
    "last_seen_s": st.floats(0, 1e5).map(lambda t: round(t, 3)),
    "first_frame": st.integers(0, 10**7),
    "last_frame": st.integers(0, 10**7),
    "frames_seen": st.integers(1, 10**7),
    "estimates": st.integers(0, 100),
    "track_ids": st.lists(st.integers(1, 10**6), min_size=1, max_size=4),
    "best_crop": st.one_of(st.none(), st.text(min_size=1, max_size=30)),
}), max_size=20, unique_by=lambda r: r["id"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROWS)
def test_identities_json_and_csv_round_trip(tmp_path, rows):
    sink = IdentitiesSink()
    sink.open(_run_info(tmp_path))
    sink.close(RunSummary(output_dir=tmp_path, records={r["id"]: r for r in rows}))
    back = json.loads((tmp_path / "identities.json").read_text())
    assert back["count"] == len(rows) and back["identities"] == sorted(rows, key=lambda r: r["id"])
    with open(tmp_path / "identities.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == IDENTITY_COLUMNS if table else True
    for row, line in zip(sorted(rows, key=lambda r: r["id"]), table, strict=True):
        assert line["id"] == str(row["id"]) and line["best_crop"] == (row["best_crop"] or "")
        assert line["track_ids"] == " ".join(str(t) for t in row["track_ids"])


FRAMES = st.lists(st.tuples(st.floats(0, 30), st.lists(st.tuples(
    st.integers(1, 12), st.floats(0, 2000), st.floats(0, 2000), st.one_of(st.none(), st.floats(0, 100)),
    st.sampled_from(["male", "female", None]), st.floats(0, 1)), max_size=6)), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FRAMES, st.booleans())
def test_demographics_counts_add_up(tmp_path, frames, live):
    path = tmp_path / "demographics.json"
    sink = DemographicsSink(path.name, 1.0, use_live_labels=live)
    sink.open(_run_info(tmp_path))
    view = FakeIdentities()
    for index, (time_s, entries) in enumerate(sorted(frames, key=lambda f: f[0])):
        view.labels = {e[0]: Label(e[3], e[4], e[5]) for e in entries}
        centres = np.array([[e[1], e[2]] for e in entries], np.float32).reshape(-1, 2)
        dets = Detections.from_boxes(np.hstack([centres - 5, centres + 5]), np.ones(len(entries)), PERSON)
        dets.track_id[:] = [e[0] for e in entries]
        sink.write(Frame(index, time_s, np.zeros((4, 4, 3), np.uint8)), dets, view)
    identities = {i: {"id": i, "age": 30.0, "gender": "female", "confidence": 0.9, "best_crop": None}
                  for i in range(1, 8)}
    sink.close(RunSummary(output_dir=tmp_path, records=identities, view=view))
    data = json.loads(path.read_text())
    for bucket in data["buckets"]:
        ids = [p["id"] for p in bucket["people"]]
        assert len(ids) == len(set(ids)) and all(i in identities for i in ids)  # merged/unknown ids never double
        assert bucket["men"] + bucket["women"] + bucket["unknown_gender"] == bucket["total_people"]
        assert sum(bucket["age_groups"].values()) <= bucket["total_people"]
        assert list(bucket["age_groups"]) == list(AGE_GROUPS)
    assert not list(tmp_path.glob(".*"))


class FakeIdentities:
    """The identity view the sinks read: live labels, and id 9 merged into id 1."""

    finished: list = []
    labels: dict = {}

    def live_label(self, identity_id):
        return self.labels.get(identity_id, Label(None, None, 0.0))

    def final_ids(self, ids):
        return np.where(np.asarray(ids) == 9, 1, ids)


def _run_info(out):
    return RunInfo(out, SourceInfo("video", "clip", 25.0), PipelineConfig())
