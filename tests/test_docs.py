"""The README documents every flag of the main command line (a flag nobody can find does not exist for users)."""

import re
from pathlib import Path

import demo

ROOT = Path(__file__).resolve().parents[1]


def test_every_demo_flag_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    flags = {o for a in demo.build_parser()._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
    assert len(flags) > 40
    undocumented = sorted(f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", readme))
    assert undocumented == []
