"""Which build may write the generators shipped with the package: chapter 6's policy.

The library (:mod:`prunegan.gan.shipped`) saves, loads and checks the shipped files against a key; the
chapter decides what the key is and when the package's own folder is written. :func:`shipped_key` is a
digest of the chapter's parameters and of what the generators depend on (the candidate channel
features, the feature, model and results versions); only the full chapter's build, replicate 0
(:data:`.config.DEFAULTS`), writes into ``lib/prunegan/gan/shipped/`` — a smoke run or replicate 1
writes nothing there."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ...core.store import RESULTS_VERSION, config_digest
from ...gan import shipped as gan_shipped
from ...gan.config import MODEL_VERSION
from ...gan.features import FEATURE_VERSION, FEATURES
from ...gan.generator import Generator
from .config import DEFAULTS, Chapter6Params


def shipped_key(params: Chapter6Params | None = None) -> str:
    """The key of the generators chapter 6 fits with ``params`` (default: the full chapter's
    :data:`.config.DEFAULTS`, replicate 0): a digest of the chapter's parameters, the candidate channel
    features (:data:`prunegan.gan.features.FEATURES`: the chapter selects among them) and the feature,
    model and results versions, computed from the configuration alone (nothing is run)."""
    params = DEFAULTS if params is None else params
    if not isinstance(params, Chapter6Params):
        raise ValueError(f"shipped_key takes a Chapter6Params, got {params!r}")
    return config_digest({"chapter6": params, "features": list(FEATURES), "feature_version": FEATURE_VERSION,
                          "model_version": MODEL_VERSION, "results_version": RESULTS_VERSION})


def export_shipped(generators_by_setting: Mapping[str, Generator], key: str,
                   dest: str | Path | None = None) -> Path | None:
    """Write chapter 6's trained generators (``{"conv": g, "conv+linear": g2}``) with their manifest
    (:func:`prunegan.gan.export_shipped`). ``key``: :func:`shipped_key` of the chapter's parameters.
    Into ``dest`` when given; otherwise into the package's folder
    (:data:`prunegan.gan.shipped.SHIPPED_DIR`) only for the shipped build (``key == shipped_key()``),
    any other key writing nothing and returning ``None`` (the generators are checked all the same).
    Returns the manifest's path."""
    gan_shipped.validate_export(generators_by_setting, key)
    if dest is None:
        if key != shipped_key():
            return None
        dest = gan_shipped.SHIPPED_DIR
    return gan_shipped.export_shipped(generators_by_setting, key, dest)


def ship(generators_by_setting: Mapping[str, Generator], key: str) -> str:
    """Chapter 6's last step, in words for the notebook: the shipped build (``key == shipped_key()``)
    writes its generators into the package (:func:`export_shipped`; a generator that diverged or did not
    learn its bank raises ``ValueError`` and stops the build); any other build writes nothing and says
    whether its generators would have passed the checks."""
    if key == shipped_key():
        return f"shipped: {export_shipped(generators_by_setting, key)}"
    try:
        gan_shipped.validate_export(generators_by_setting, key)
    except ValueError as exc:
        return f"not shipped (only the full chapter of replicate 0 is); it would be refused: {exc}"
    return "not shipped (only the full chapter of replicate 0 is); its generators pass the export checks"


def shipped_is_current(dest: str | Path | None = None, params: Chapter6Params | None = None) -> bool:
    """Whether the shipped generators in ``dest`` (default the package's) were produced by chapter 6's
    configuration ``params`` (default :data:`.config.DEFAULTS`):
    :func:`prunegan.gan.shipped_is_current` with :func:`shipped_key` ``(params)``. Raises
    ``FileNotFoundError`` when nothing has been shipped yet."""
    return gan_shipped.shipped_is_current(shipped_key(params), dest)
