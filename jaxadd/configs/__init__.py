"""Named recipes: ``--config=NAME`` picks one, and any flag overrides a field.

Each recipe is a module here with ``get_config() -> Config``; its docstring
gives the command and what the recipe reached, measured, with the results file
it comes from. From Python::

    from jaxadd import configs
    config = configs.get("d5")
"""

from __future__ import annotations

import importlib

from jaxadd.config import Config

NAMES = ("default", "keras_example", "d2", "d4", "d5", "d10", "tiny")


def get(name: str) -> Config:
    """The recipe ``name``; ``ValueError`` with one line for an unknown name."""
    if name not in NAMES:
        raise ValueError(f"config must be one of {', '.join(NAMES)}, got {name!r}")
    return importlib.import_module(f"jaxadd.configs.{name}").get_config()
