"""The README keeps up with the code: every command and every model is documented."""

from pathlib import Path

from clicklake.cli import build_parser
from clicklake.transform import discover

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_cli_command_is_in_the_readme():
    commands = build_parser()._subparsers._group_actions[0].choices
    missing = [c for c in commands if f"`clicklake {c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_stage_and_mart_model_is_in_the_readme():
    missing = [m.name for m in discover() if m.schema != "temp" and f"`{m.name}`" not in README]
    assert not missing, f"undocumented models: {missing}"
