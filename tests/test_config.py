"""Settings defined once: flags from the Config fields, named recipes, README table.

The README's settings table is generated from the fields; to regenerate it after
changing a field, run ``python tests/test_config.py`` and paste its output
between the README's ``settings-table`` markers.
"""

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import typing

import pytest

from jaxadd import configs
from jaxadd.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[1]
START, END = "<!-- settings-table -->", "<!-- /settings-table -->"


def _default_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_table() -> str:
    """The README's table of the settings, one row per Config field."""
    types = typing.get_type_hints(Config)
    rows = ["| flag | default | meaning |", "| --- | --- | --- |"]
    for field in Config.fields():
        name = f"`--{field.name}`"
        if types[field.name] is bool:
            name += f" / `--no{field.name}`"
        meaning = field.metadata["help"].replace("|", "\\|")
        rows.append(f"| {name} | {_default_text(field.default)} | {meaning} |")
    return "\n".join(rows)


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    assert START in text and END in text, "README lacks the settings-table markers"
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_readme_settings_table_is_generated_from_the_fields():
    assert readme_block() == settings_table(), "run python tests/test_config.py"


def test_every_field_has_help_and_a_flag():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, jaxadd.main as m; "
            "print(json.dumps({n: [str(f.default), f.help] for n, f in "
            "m.FLAGS._flags().items() if f.name == n and "
            "m.FLAGS.find_module_defining_flag(n) == 'jaxadd.main'}))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stderr
    defined = json.loads(result.stdout)
    for field in Config.fields():
        assert field.metadata["help"].strip()
        # absl puts an enum's choices before its help: <constant|cosine>: ...
        assert defined[field.name][1].endswith(field.metadata["help"])
    # The flags that are not settings are in the README's other table.
    readme = (ROOT / "README.md").read_text()
    others = set(defined) - {f.name for f in Config.fields()}
    assert others >= {"workdir", "config", "cpu_devices"}
    for name in others:
        assert re.search(rf"\| `--{name}`", readme), f"README lacks --{name}"


@pytest.mark.parametrize("name", configs.NAMES)
def test_each_recipe_is_valid_and_says_how_to_run_it(name):
    config = configs.get(name)
    config.validate()
    doc = sys.modules[f"jaxadd.configs.{name}"].__doc__
    assert "python -m jaxadd.main" in doc
    if name != "default":
        assert f"--config={name}" in doc


def test_unknown_recipe_is_one_line():
    with pytest.raises(ValueError, match="config must be one of default, "):
        configs.get("d7")


def test_flags_override_the_recipe(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "jaxadd.main", "--config=tiny", "--hidden_size=8"]
        + ["--epochs=1", f"--workdir={workdir}"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stderr
    saved = json.loads((workdir / "config.json").read_text())["config"]
    expected = dataclasses.replace(configs.get("tiny"), hidden_size=8, epochs=1)
    assert saved == expected.to_dict()


if __name__ == "__main__":
    print(settings_table())
