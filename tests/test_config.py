"""Settings defined once: flags from the Config fields, named recipes, README table.

The README's settings table is generated from the fields, and its table of the
recipes ``--digits`` follows from the recipes; to regenerate them after changing
a field or a recipe, run ``python tests/test_config.py`` and paste each table
between its markers in the README.
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
DIGITS_START, DIGITS_END = "<!-- digits-table -->", "<!-- /digits-table -->"


def _default_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_table() -> str:
    """The README's table of the settings, one row per Config field."""
    types = typing.get_type_hints(Config)
    follow = configs.digit_dependent_fields()
    rows = ["| flag | default | meaning |", "| --- | --- | --- |"]
    for field in Config.fields():
        name = f"`--{field.name}`"
        if types[field.name] is bool:
            name += f" / `--no{field.name}`"
        meaning = field.metadata["help"].replace("|", "\\|")
        default = _default_text(field.default)
        if field.name in follow:
            default += ", follows `--digits`"
        rows.append(f"| {name} | {default} | {meaning} |")
    return "\n".join(rows)


def digits_table() -> str:
    """The README's table of the recipe each ``--digits`` follows."""
    follow = configs.digit_dependent_fields()
    rows = [
        "| `--digits` | recipe | " + " | ".join(f"`{name}`" for name in follow) + " |",
        "| --- | --- |" + " --- |" * len(follow),
    ]
    for digits in range(1, 11):
        name = configs.for_digits(digits)
        recipe = configs.get(name)
        values = " | ".join(_default_text(getattr(recipe, f)) for f in follow)
        rows.append(f"| {digits} | `{name}` | {values} |")
    return "\n".join(rows)


def readme_block(start: str = START, end: str = END) -> str:
    text = (ROOT / "README.md").read_text()
    assert start in text and end in text, f"README lacks the {start} markers"
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_readme_settings_table_is_generated_from_the_fields():
    assert readme_block() == settings_table(), "run python tests/test_config.py"


def test_readme_digits_table_is_generated_from_the_recipes():
    block = readme_block(DIGITS_START, DIGITS_END)
    assert block == digits_table(), "run python tests/test_config.py"


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
        # absl puts an enum's choices before its help (<constant|cosine>: ...),
        # and a default that follows --digits says so after it.
        assert field.metadata["help"] in defined[field.name][1]
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
        configs.get("d99")


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


@pytest.mark.parametrize(
    "digits, name",
    [(1, "d1"), (2, "d2"), (3, "default"), (4, "d4"), (5, "d5"), (6, "d6"), (7, "d7")]
    + [(8, "d10"), (9, "d10"), (10, "d10"), (18, "d10")],
)
def test_each_number_of_digits_follows_its_recipe(digits, name):
    config, line = configs.resolve(None, {"digits": digits})
    assert config == dataclasses.replace(configs.get(name), digits=digits)
    assert line.startswith(f"recipe {name} (jaxadd/configs/{name}.py), chosen by ")
    assert ("measured for" in line) == (configs.get(name).digits != digits)


def test_flags_given_win_over_the_recipe_for_digits():
    given = {"digits": 4, "epochs": 1, "batch_size": 16}
    config, line = configs.resolve(None, given)
    d4 = configs.get("d4")
    assert (config.epochs, config.batch_size) == (1, 16)
    # What was not given comes from d4, not from the 3-digit defaults.
    assert config.training_size == d4.training_size != Config().training_size
    assert line.endswith("set by flags: digits, epochs, batch_size")


def test_a_config_given_is_kept_whatever_the_digits():
    config, line = configs.resolve("default", {"digits": 4})
    assert config == dataclasses.replace(Config(), digits=4)
    assert "--config=default" in line
    assert configs.resolve(None, {})[0] == Config()


def test_the_fields_that_follow_digits_are_those_that_differ():
    follow = configs.digit_dependent_fields()
    assert {"training_size", "epochs", "batch_size", "sampling"} <= set(follow)
    assert "digits" not in follow and "seed" not in follow
    for name in follow:
        values = {
            getattr(configs.get(configs.for_digits(d)), name) for d in range(1, 11)
        }
        assert len(values) > 1, name


def _main(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jaxadd.main", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )


def test_the_run_names_its_recipe_records_resolved_values_and_resumes(tmp_path):
    workdir = f"--workdir={tmp_path / 'run'}"
    # A constant rate: then more epochs change no step, and may be resumed.
    flags = ["--digits=1", "--lr_schedule=constant", "--num_samples=0", workdir]
    result = _main(*flags, "--epochs=2")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == (
        "recipe d1 (jaxadd/configs/d1.py), chosen by --digits=1; "
        "set by flags: digits, epochs, lr_schedule, num_samples"
    )
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    given = {"digits": 1, "lr_schedule": "constant", "num_samples": 0, "epochs": 2}
    expected, _ = configs.resolve(None, given)
    assert saved == expected.to_dict()
    assert saved["training_size"] == 55 and saved["batch_size"] == 5

    # More epochs resume; a setting that changes what a step computes does not.
    result = _main(*flags, "--epochs=3")
    assert result.returncode == 0, result.stderr
    assert "Resumed from" in result.stdout
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    result = _main(*flags, "--epochs=3", "--batch_size=10")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "batch_size 5 -> 10" in result.stderr


def test_help_says_which_defaults_follow_digits():
    result = _main("--help")  # absl's help exits 1, as absl's does everywhere
    text = " ".join(result.stdout.split())
    note = "Unset: from the recipe for --digits (shown: 3 digits)."
    for name in configs.digit_dependent_fields():
        help_text = " ".join(dict(_fields())[name].split())
        assert f"{help_text} {note}" in text, name
    assert f"Largest number of digits of an operand. {note}" not in text


def _fields():
    return [(f.name, f.metadata["help"]) for f in Config.fields()]


if __name__ == "__main__":
    print(
        START,
        settings_table(),
        END,
        "",
        DIGITS_START,
        digits_table(),
        DIGITS_END,
        sep="\n",
    )
