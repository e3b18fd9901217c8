"""Named recipes: ``--config=NAME`` picks one, and any flag overrides a field.

Each recipe is a module here with ``get_config() -> Config``; its docstring
gives the command and what the recipe reached, measured, with the results file
it comes from. From Python::

    from jaxadd import configs
    config = configs.get("d5")

Without ``--config``, the recipe follows ``--digits`` (``for_digits``): the bare
``python -m jaxadd.main --digits=4`` trains with ``d4``'s data, batch, rate and
epochs, and any flag given as well still wins.
"""

from __future__ import annotations

import dataclasses
import importlib

from jaxadd.config import Config

NAMES = ("default", "keras_example", "d1", "d2", "d4", "d5", "d6", "d7", "d10", "tiny")

# The recipe measured for each number of digits; "default" is the 3-digit one.
_BY_DIGITS = {
    1: "d1",
    2: "d2",
    3: "default",
    4: "d4",
    5: "d5",
    6: "d6",
    7: "d7",
    10: "d10",
}


def get(name: str) -> Config:
    """The recipe ``name``; ``ValueError`` with one line for an unknown name."""
    if name not in NAMES:
        raise ValueError(f"config must be one of {', '.join(NAMES)}, got {name!r}")
    return importlib.import_module(f"jaxadd.configs.{name}").get_config()


def for_digits(digits: int) -> str:
    """The recipe that ``--digits=digits`` follows when no ``--config`` is given.

    The one measured for that many digits; between two measured ones (8 and 9
    digits) the next longer, and beyond 10 digits ``d10``, the longest there is,
    with its ``digits`` replaced.
    """
    longer = [n for n in sorted(_BY_DIGITS) if n >= digits]
    return _BY_DIGITS[longer[0] if longer else max(_BY_DIGITS)]


def digit_dependent_fields() -> tuple[str, ...]:
    """The settings whose value differs between the recipes ``--digits`` picks."""
    recipes = [get(name) for name in dict.fromkeys(_BY_DIGITS.values())]
    return tuple(
        field.name
        for field in Config.fields()
        if field.name != "digits"
        and len({getattr(recipe, field.name) for recipe in recipes}) > 1
    )


def resolve(name: str | None, given: dict) -> tuple[Config, str]:
    """The run's settings and the line that says where they came from.

    Args:
      name: the ``--config`` given, or ``None`` to follow ``digits``.
      given: the settings given as flags, by field name; each wins over the
        recipe.

    Returns:
      ``(config, line)``, e.g. ``recipe d4 (jaxadd/configs/d4.py), chosen by
      --digits=4; set by flags: digits, reverse``.
    """
    if name is None:
        digits = given.get("digits", Config.digits)
        name = for_digits(digits)
        how = f"chosen by --digits={digits}" if "digits" in given else "no --digits"
        recipe = get(name)
        if recipe.digits != digits:
            how += f" (measured for {recipe.digits} digits)"
    else:
        recipe = get(name)
        how = f"--config={name}"
    config = dataclasses.replace(recipe, **given)
    flags = ", ".join(given) if given else "none"
    line = f"recipe {name} (jaxadd/configs/{name}.py), {how}; set by flags: {flags}"
    return config, line
