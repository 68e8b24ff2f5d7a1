"""chapters.part2.shipping: chapter 6's key for the shipped generators and the rule that only the
shipped build (full chapter, replicate 0) writes them into the package."""
from __future__ import annotations

from dataclasses import replace

import pytest

import kernel_digest
from prunegan import gan
from prunegan.chapters.part2 import config as chapter6
from prunegan.chapters.part2 import shipping
from prunegan.gan import GanConfig, Generator
from prunegan.gan import shipped as shipped_mod

WEIGHT_ONLY = ("l1_z_layer", "l1_rank_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")


@pytest.fixture(scope="module")
def generator() -> Generator:
    return gan.fit(kernel_digest.hand_made_bank(), GanConfig(steps=30, batch_size=8, hidden=16,
                                                             features=WEIGHT_ONLY),
                   progress=False, cache=False)


def test_the_key_is_the_chapters_configuration():
    key = shipping.shipped_key()
    assert key == shipping.shipped_key(chapter6.DEFAULTS) != shipping.shipped_key(chapter6.SMOKE_PARAMS)
    assert shipping.shipped_key(replace(chapter6.DEFAULTS, gan_steps=chapter6.DEFAULTS.gan_steps + 1)) != key
    with pytest.raises(ValueError, match="takes a Chapter6Params"):
        shipping.shipped_key({"gan_steps": 300})


def test_shipped_is_current_compares_the_key_the_chapter_config_gives(generator, tmp_path):
    shipping.export_shipped({"conv": generator}, shipping.shipped_key(), dest=tmp_path)
    assert shipping.shipped_is_current(dest=tmp_path)
    assert gan.shipped_is_current(shipping.shipped_key(), dest=tmp_path)
    assert not shipping.shipped_is_current(dest=tmp_path, params=replace(chapter6.DEFAULTS, gan_steps=301))
    shipping.export_shipped({"conv": generator}, shipping.shipped_key(chapter6.SMOKE_PARAMS), dest=tmp_path)
    assert not shipping.shipped_is_current(dest=tmp_path)


def test_only_the_shipped_build_writes_into_the_package(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(shipped_mod, "SHIPPED_DIR", tmp_path / "pkg")
    assert shipping.export_shipped({"conv": generator}, shipping.shipped_key(chapter6.SMOKE_PARAMS)) is None
    assert not (tmp_path / "pkg").exists()
    with pytest.raises(ValueError, match="expected a trained"):  # checked even when nothing is written
        shipping.export_shipped({"conv": Generator(GanConfig(features=WEIGHT_ONLY))},
                                shipping.shipped_key(chapter6.SMOKE_PARAMS))
    with pytest.raises(ValueError, match="key must be a non-empty string"):
        shipping.export_shipped({"conv": generator}, None)
    written = shipping.export_shipped({"conv": generator}, shipping.shipped_key())
    assert written == tmp_path / "pkg" / "manifest.json"
    assert shipping.shipped_is_current()


def test_shipped_generators_are_current():
    """Fails when the shipped files are stale (chapter 6's config changed since they were written)."""
    if gan.shipped_manifest() is None:
        pytest.skip("no shipped generators yet in lib/prunegan/gan/shipped/: the next `make book` "
                    "writes them (notebooks/06_gan.py calls prunegan.chapters.part2.shipping.export_shipped)")
    assert shipping.shipped_is_current(), (
        "the shipped generators were produced by another chapter-6 config, feature or model version: "
        "rebuild with `make book` and commit lib/prunegan/gan/shipped/")
    for setting in shipped_mod.SETTINGS:
        assert gan.load_shipped(setting).trained
