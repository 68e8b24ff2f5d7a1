"""The chapter's generators, shipped with the package: the GAN on your own network without building the book.

``lib/prunegan/gan/shipped/`` holds one small generator file per setting (``conv.pt``: the conv layers;
``conv-linear.pt``: the convs and the hidden Linear layers) and ``manifest.json`` (the chapter-6 key
that produced them, the commit, feature and model versions, the machine, each file's SHA-256).
This module saves (:func:`export_shipped`), loads and checks them against a key
(:func:`shipped_is_current`); which build may write them and what the key is are chapter 6's
policy (:mod:`prunegan.chapters.part2.shipping`: ``make book`` writes them). Use them with one call:

>>> from prunegan import gan, models
>>> net = models.build("lenet5")    # your trained LeNet-5: net.load_state_dict(torch.load("my_net.pt"))
>>> g = gan.load_shipped("conv")
>>> keep = g.keep_probabilities(net, 0.8)    # {layer: (C,) probability that the channel is kept}
>>> best, masks = g.mode(net, 0.8), g.sample(net, 0.8, 5, seed=0)    # ChannelMask, [ChannelMask] * 5

From the shell: ``prunegan map --model lenet5 --weights my_net.pt --sparsity 0.8``.
"""
from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from typing import Mapping

from ..core.store import atomic_write, canonical_json
from .config import MODEL_VERSION
from .features import FEATURE_VERSION
from . import diagnostics
from .generator import Generator

#: Where the shipped generators live (inside the package).
SHIPPED_DIR = Path(__file__).with_name("shipped")
MANIFEST = "manifest.json"
#: Setting → (file name, include_linear). The settings are chapter 6's (``chapters.part2.SETTINGS``).
SETTINGS: dict[str, tuple[str, bool]] = {"conv": ("conv.pt", False), "conv+linear": ("conv-linear.pt", True)}
#: Other spellings accepted for a setting (shell-friendly).
ALIASES = {"conv-linear": "conv+linear", "conv_linear": "conv+linear"}
HOW_PRODUCED = ("the shipped generators are written by chapter 6 (`make book`: notebooks/06_gan.py calls "
                "prunegan.chapters.part2.shipping.export_shipped); or pass a generator file of your own "
                "(Generator.save)")


def setting_name(setting: str) -> str:
    """The canonical name of ``setting`` (``"conv"`` or ``"conv+linear"``; ``"conv-linear"`` accepted).
    Raises ``ValueError`` naming the allowed values."""
    name = ALIASES.get(setting, setting) if isinstance(setting, str) else setting
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; valid: conv, conv-linear (= conv+linear)")
    return name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validate_export(generators_by_setting: Mapping[str, Generator], key: str) -> dict[str, Generator]:
    """``{canonical setting: generator}`` of ``generators_by_setting`` (``{"conv": g, "conv+linear": g2}``)
    once each is a trained generator of its setting's layers that learned its bank (not flagged diverged by
    :func:`prunegan.gan.diagnostics.diverged`, and a bank likelihood above the untrained generator's when
    its fit measured one) and ``key`` a non-empty string; ``ValueError`` otherwise."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string (shipped_key(params)), got {key!r}")
    if not generators_by_setting:
        raise ValueError("export_shipped needs at least one generator")
    gens = {}
    for setting, g in generators_by_setting.items():
        name = setting_name(setting)
        if not isinstance(g, Generator) or not g.trained:
            raise ValueError(f"setting {setting!r}: expected a trained prunegan.gan.Generator, got {g!r}")
        if g.include_linear != SETTINGS[name][1]:
            raise ValueError(f"setting {setting!r} prunes include_linear={SETTINGS[name][1]}, "
                             f"the generator given was trained with include_linear={g.include_linear}")
        if diagnostics.diverged(g.history):
            real, fake = diagnostics.discriminator_end(g.history)
            raise ValueError(f"setting {setting!r}: the generator's training diverged (the discriminator "
                             f"ended at {real:.3f} on bank masks and {fake:.3f} on generated ones, a gap of "
                             "at least "
                             f"{diagnostics.DIVERGENCE_GAP}): it is not shipped")
        gain = g.fit_report.get("bank_gain")
        if gain is not None and not gain > 0:
            raise ValueError(f"setting {setting!r}: the generator's bank likelihood is {gain:+.2f} nats per "
                             "mask "
                             "from the untrained generator's: it did not learn its bank and is not shipped")
        gens[name] = g
    return gens


def export_shipped(generators_by_setting: Mapping[str, Generator], key: str, dest: str | Path) -> Path:
    """Write one trained generator per setting (``{"conv": g, "conv+linear": g2}``) and the manifest into
    ``dest`` (the package's own folder is :data:`SHIPPED_DIR`; chapter 6 decides when to write there:
    :func:`prunegan.chapters.part2.shipping.export_shipped`), each file atomically, the manifest last (it
    records every file's SHA-256, so a half-finished export is detected on load). ``key``: what produced
    the generators (chapter 6's :func:`~prunegan.chapters.part2.shipping.shipped_key`), recorded in the
    manifest. Returns the manifest's path."""
    gens = validate_export(generators_by_setting, key)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    from ..core import provenance

    files = {}
    for name, g in gens.items():
        path = dest / SETTINGS[name][0]
        g.save(path)
        files[name] = {"file": path.name, "sha256": _sha256(path), "include_linear": g.include_linear,
                       "trained_steps": len(g.history), "config": g.config.to_dict()}
    manifest = {"key": key, "commit": provenance.commit(), "feature_version": FEATURE_VERSION,
                "model_version": MODEL_VERSION,
                "written_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "machine": provenance.describe(), "settings": files}
    text = json.dumps(json.loads(canonical_json(manifest)), indent=2, sort_keys=True) + "\n"
    return atomic_write(dest / MANIFEST, lambda tmp: tmp.write_text(text))


def shipped_manifest(dest: str | Path | None = None) -> dict | None:
    """The manifest of the shipped generators in ``dest`` (default :data:`SHIPPED_DIR`), or ``None``
    when none has been written yet."""
    path = Path(SHIPPED_DIR if dest is None else dest) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"the shipped manifest {path} is damaged ({exc}); {HOW_PRODUCED}") from exc


def shipped_is_current(key: str, dest: str | Path | None = None) -> bool:
    """Whether the shipped generators in ``dest`` (default :data:`SHIPPED_DIR`) were produced under
    ``key`` (chapter 6's configuration now: :func:`prunegan.chapters.part2.shipping.shipped_key`, or
    :func:`prunegan.chapters.part2.shipping.shipped_is_current` that computes it) and their feature and
    model versions are this package's. Raises ``FileNotFoundError`` when nothing has been shipped yet."""
    manifest = shipped_manifest(dest)
    if manifest is None:
        raise FileNotFoundError(f"no shipped generators in {Path(SHIPPED_DIR if dest is None else dest)}: "
                                f"{HOW_PRODUCED}")
    return (manifest.get("key") == key and manifest.get("feature_version") == FEATURE_VERSION
            and manifest.get("model_version") == MODEL_VERSION)


def load_shipped(setting: str = "conv", dest: str | Path | None = None) -> Generator:
    """The chapter's generator for ``setting`` (``"conv"`` or ``"conv+linear"``/``"conv-linear"``) from
    ``dest`` (default :data:`SHIPPED_DIR`). Raises ``FileNotFoundError`` naming how the files are
    produced when they are absent, ``ValueError`` for an unknown setting, a file that does not match
    the manifest, or one of another feature or model version."""
    name = setting_name(setting)
    folder = Path(SHIPPED_DIR if dest is None else dest)
    manifest = shipped_manifest(folder)
    path = folder / SETTINGS[name][0]
    if manifest is None or name not in manifest.get("settings", {}) or not path.exists():
        raise FileNotFoundError(f"no shipped {name} generator in {folder}: {HOW_PRODUCED}")
    if _sha256(path) != manifest["settings"][name]["sha256"]:
        raise ValueError(f"{path} does not match its manifest (SHA-256 differs): {HOW_PRODUCED}")
    return Generator.load(path)
