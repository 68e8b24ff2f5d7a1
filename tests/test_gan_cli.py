"""The GAN without the book: shipped generators (export, load, staleness), ``prunegan map``
(printed map = Generator.keep_probabilities, most probable and sampled masks, the figure, every bad
input a one-line error with exit status 2), and the module's README-style example."""
from __future__ import annotations

import doctest
import json
import re

import pytest
import torch
from torch import nn

import kernel_digest
from prunegan import gan, models
from prunegan.core.masks import ChannelMask
from prunegan.core.store import weights_digest
from prunegan.gan import GanConfig, Generator
from prunegan import cli
from prunegan.gan import shipped as shipped_mod

WEIGHT_ONLY = ("l1_z_layer", "l1_rank_layer", "depth", "log_width", "width_share", "log_fan_in", "is_linear")
LENET_CONV = {"conv1": 6, "conv2": 16}


@pytest.fixture(scope="module")
def generator() -> Generator:
    """A conv generator fitted in about a second: on every collapse-free 90 % mask of two untrained
    LeNet-5s, the mask keeping each layer's largest-|w| channel labelled 0.9, the others 0.5."""
    return gan.fit(kernel_digest.hand_made_bank(), GanConfig(steps=30, batch_size=8, hidden=16,
                                                             features=WEIGHT_ONLY),
                   progress=False, cache=False)


def _linear_twin(g: Generator) -> Generator:
    """The same trained net read as a conv + Linear generator (its features name no layer)."""
    return Generator(g.config, g.net, include_linear=True, history=g.history)


@pytest.fixture()
def files(generator, tmp_path):
    """A network's weights and the generator saved to tmp_path; the network itself."""
    net = models.build("lenet5", seed=7)
    torch.save(net.state_dict(), tmp_path / "my_net.pt")
    generator.save(tmp_path / "gen.pt")
    return net, tmp_path / "my_net.pt", tmp_path / "gen.pt"


def _printed_map(text: str) -> dict[str, torch.Tensor]:
    rows: dict[str, list[float]] = {}
    for layer, start, values in re.findall(r"^  (\S+)\[(\d+):\d+\] ([\d. ]+)$", text, re.M):
        rows.setdefault(layer, [])
        assert len(rows[layer]) == int(start)
        rows[layer] += [float(v) for v in values.split()]
    return {k: torch.tensor(v) for k, v in rows.items()}


def _kept(mask: ChannelMask) -> str:
    return "; ".join(f"{layer} {torch.nonzero(mask[layer]).flatten().tolist()}" for layer in mask)


# ------------------------------------------------------------------------------------------- the map
@pytest.mark.parametrize("setting, include_linear, sparsity",
                         [(None, False, 0.8), ("conv-linear", True, 0.9)])
def test_map_prints_the_exact_map_the_mode_and_the_samples_and_writes_the_figure(
        generator, files, capsys, setting, include_linear, sparsity):
    net, weights, gen = files
    out = weights.parent / "map.png"
    argv = ["map", "--model", "lenet5", "--weights", str(weights), "--sparsity", str(sparsity),
            "--samples", "3", "--seed", "5", "--out", str(out), "--generator", str(gen)]
    assert cli.main(argv + (["--setting", setting] if setting else [])) == 0
    text = capsys.readouterr().out
    g = _linear_twin(generator) if include_linear else generator
    expected = g.keep_probabilities(net, sparsity)
    printed = _printed_map(text)
    assert list(printed) == list(expected) == (["conv1", "conv2", "fc1", "fc2"] if include_linear
                                               else ["conv1", "conv2"])
    for layer, p in expected.items():
        assert torch.allclose(printed[layer], p, atol=5.1e-5)
    assert "most probable mask (P = " in text and _kept(g.mode(net, sparsity)) in text
    samples = g.sample(net, sparsity, 3, seed=5)
    for i, m in enumerate(samples):
        assert re.search(rf"^sample {i} \(seed {5 + i}, P = [^)]+\): {re.escape(_kept(m))}$", text, re.M)
    assert "sample 3" not in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000


def test_map_uses_the_shipped_generator_by_default(generator, files, tmp_path, monkeypatch, capsys):
    net, weights, _ = files
    monkeypatch.setattr(shipped_mod, "SHIPPED_DIR", tmp_path / "shipped")
    gan.export_shipped({"conv": generator, "conv+linear": _linear_twin(generator)}, "k",
                       dest=tmp_path / "shipped")
    out = tmp_path / "m.svg"
    assert cli.main(["map", "--model", "lenet5", "--weights", str(weights), "--sparsity", "0.8",
                     "--setting", "conv-linear", "--out", str(out)]) == 0
    printed = _printed_map(capsys.readouterr().out)
    assert list(printed) == ["conv1", "conv2", "fc1", "fc2"] and out.read_text().lstrip().startswith("<?xml")


class NoConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(784, 20), nn.Linear(20, 10)

    def forward(self, x):
        return self.b(torch.relu(self.a(x.flatten(1))))


def _bad_cases(tmp_path, weights, gen):
    caffe = tmp_path / "caffe.pt"
    torch.save(models.build("lenet5-caffe").state_dict(), caffe)
    partial = tmp_path / "partial.pt"
    state = models.build("lenet5").state_dict()
    state.pop("conv1.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, partial)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    old = tmp_path / "old_gen.pt"
    blob = torch.load(gen, weights_only=True)
    blob["feature_version"] = gan.FEATURE_VERSION + 1
    torch.save(blob, old)
    oldm = tmp_path / "old_model_gen.pt"
    blob["feature_version"], blob["model_version"] = gan.FEATURE_VERSION, gan.MODEL_VERSION - 1
    torch.save(blob, oldm)
    w = str(weights)
    return {
        "no conv layer": (["--model", "noconv", "--weights", w], "has no Conv2d layer"),
        "unknown model": (["--model", "resnet", "--weights", w], "unknown model 'resnet'; valid: lenet5"),
        "weights of another net": (["--model", "lenet5", "--weights", str(caffe)],
                                   r"do not fit model LeNet5: .*shape \(file vs model\) "
                                   r"conv1.weight \(20, 1, 5, 5\) vs \(6, 1, 5, 5\)"),
        "missing/unexpected keys": (["--model", "lenet5", "--weights", str(partial)],
                                    "missing conv1.bias; unexpected extra.weight"),
        "no weights file": (["--model", "lenet5", "--weights", str(tmp_path / "nope.pt")], "no such file"),
        "not a state_dict": (["--model", "lenet5", "--weights", str(junk)],
                             "does not load as a torch state_dict"),
        "sparsity 1": (["--model", "lenet5", "--weights", w, "--sparsity", "1.0"],
                       r"sparsity must be in \[0, 1\)"),
        "sparsity < 0": (["--model", "lenet5", "--weights", w, "--sparsity", "-0.1"], "sparsity must be in"),
        "sparsity not a number": (["--model", "lenet5", "--weights", w, "--sparsity", "lots"],
                                  "invalid float value: 'lots'"),
        "infeasible sparsity": (["--model", "lenet5", "--weights", w, "--sparsity", "0.96"],
                                "1 per layer|layers"),
        "generator feature version": (["--model", "lenet5", "--weights", w, "--generator", str(old)],
                                      f"feature version {gan.FEATURE_VERSION + 1}"),
        "generator model version": (["--model", "lenet5", "--weights", w, "--generator", str(oldm)],
                                    f"model version {gan.MODEL_VERSION - 1}"),
        "unknown setting": (["--model", "lenet5", "--weights", w, "--setting", "fc"], "unknown setting 'fc'"),
        "bad figure name": (["--model", "lenet5", "--weights", w, "--out", str(tmp_path / "map.gif")],
                            "must end in one of .png"),
        "negative samples": (["--model", "lenet5", "--weights", w, "--samples", "-1"], "--samples"),
        "no shipped files": (["--model", "lenet5", "--weights", w, "--no-generator"], "make book"),
        "no --weights": (["--model", "lenet5"], "required: --weights"),
    }


CASES = ["no conv layer", "unknown model", "weights of another net", "missing/unexpected keys",
         "no weights file", "not a state_dict", "sparsity 1", "sparsity < 0", "sparsity not a number",
         "infeasible sparsity",
         "generator feature version", "generator model version", "unknown setting", "bad figure name",
         "negative samples", "no shipped files", "no --weights"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line_and_exit_status_2_before_any_work(files, tmp_path, monkeypatch, capsys,
                                                                        case):
    _, weights, gen = files
    monkeypatch.setitem(models.MODELS._items, "noconv", lambda num_classes=10: NoConv())
    monkeypatch.setattr(shipped_mod, "SHIPPED_DIR", tmp_path / "empty")
    monkeypatch.setattr(Generator, "keep_probabilities", lambda *a, **k: pytest.fail("work started"))
    args, needle = _bad_cases(tmp_path, weights, gen)[case]
    if "--sparsity" not in args and args[-1] != "--model" and "--weights" in args:
        args = args + ["--sparsity", "0.8"]
    if "--no-generator" in args:
        args.remove("--no-generator")
    elif "--generator" not in args:
        args = args + ["--generator", str(gen)]
    out = tmp_path / "map.png"
    if "--out" not in args:
        args = args + ["--out", str(out)]
    assert cli.main(["map", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and captured.out == ""
    assert re.search(needle, lines[0]), lines[0]
    assert "Traceback" not in captured.err and not out.exists()


# ------------------------------------------------------------------------------------------- shipped
def test_export_then_load_round_trips_with_a_manifest(generator, tmp_path):
    dest = tmp_path / "shipped"
    path = gan.export_shipped({"conv": generator, "conv-linear": _linear_twin(generator)}, "abc", dest=dest)
    assert path == dest / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["key"] == "abc" and manifest["feature_version"] == gan.FEATURE_VERSION
    assert manifest["model_version"] == gan.MODEL_VERSION and manifest["commit"]
    assert set(manifest["settings"]) == {"conv", "conv+linear"}
    assert manifest["settings"]["conv+linear"]["file"] == "conv-linear.pt"
    assert manifest["settings"]["conv"]["config"]["features"] == list(WEIGHT_ONLY)
    for setting, il in (("conv", False), ("conv-linear", True), ("conv+linear", True)):
        g = gan.load_shipped(setting, dest=dest)
        assert g.include_linear is il and weights_digest(g.net) == weights_digest(generator.net)
    # a file that no longer matches its manifest is refused
    (dest / "conv.pt").write_bytes((dest / "conv.pt").read_bytes() + b"x")
    with pytest.raises(ValueError, match="does not match its manifest"):
        gan.load_shipped("conv", dest=dest)


def test_absent_shipped_files_name_how_they_are_produced(generator, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"make book.*export_shipped"):
        gan.load_shipped("conv", dest=tmp_path)
    gan.export_shipped({"conv": generator}, "abc", dest=tmp_path)
    with pytest.raises(FileNotFoundError, match="no shipped conv\\+linear generator"):
        gan.load_shipped("conv-linear", dest=tmp_path)
    with pytest.raises(FileNotFoundError, match="make book"):
        gan.shipped_is_current("abc", dest=tmp_path / "nothing")
    with pytest.raises(ValueError, match="unknown setting 'fc'; valid: conv, conv-linear"):
        gan.load_shipped("fc", dest=tmp_path)


def test_export_refuses_bad_generators(generator, tmp_path):
    with pytest.raises(ValueError, match="include_linear=True, the generator given was trained with "
                                         "include_linear=False"):
        gan.export_shipped({"conv+linear": generator}, "abc", dest=tmp_path)
    with pytest.raises(ValueError, match="expected a trained"):
        gan.export_shipped({"conv": Generator(GanConfig(features=WEIGHT_ONLY))}, "abc", dest=tmp_path)
    with pytest.raises(ValueError, match="unknown setting"):
        gan.export_shipped({"fc": generator}, "abc", dest=tmp_path)
    assert not list(tmp_path.iterdir())


def _copy(generator, history=None, gain=None):
    g = Generator(generator.config, generator.net, include_linear=generator.include_linear,
                  history=history or generator.history)
    g.fit_report = {} if gain is None else {"bank_gain": gain}
    return g


@pytest.mark.parametrize("real, fake, refused", [(0.998, 0.010, True), (0.90, 0.10, True),
                                                 (0.89, 0.10, False)])
def test_export_refuses_a_diverged_generator(generator, tmp_path, real, fake, refused):
    """The divergence rule on both sides of its threshold (d_real − d_fake ≥ 0.8 at the end)."""
    won = [{"stage": "adversarial", "step": i + 1, "d_real": real, "d_fake": fake} for i in range(20)]
    if refused:
        with pytest.raises(ValueError, match="diverged"):
            gan.export_shipped({"conv": _copy(generator, won)}, "abc", dest=tmp_path)
        assert not list(tmp_path.iterdir())
    else:
        assert gan.export_shipped({"conv": _copy(generator, won)}, "abc", dest=tmp_path).exists()


@pytest.mark.parametrize("gain, refused", [(-0.01, True), (0.0, True), (0.01, False)])
def test_export_refuses_a_generator_that_did_not_learn_its_bank(generator, tmp_path, gain, refused):
    if refused:
        with pytest.raises(ValueError, match="did not learn its bank"):
            gan.export_shipped({"conv": _copy(generator, gain=gain)}, "abc", dest=tmp_path)
    else:
        assert gan.export_shipped({"conv": _copy(generator, gain=gain)}, "abc", dest=tmp_path).exists()


def test_shipped_is_current_compares_the_manifest_key_and_versions(generator, tmp_path):
    """The library checks the files against the key it is given (chapter 6 computes the key:
    tests/test_chapters_shipping.py)."""
    gan.export_shipped({"conv": generator}, "abc", dest=tmp_path)
    assert gan.shipped_is_current("abc", dest=tmp_path)
    assert not gan.shipped_is_current("abd", dest=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "model_version": -1}))
    assert not gan.shipped_is_current("abc", dest=tmp_path)


def test_the_library_exports_only_where_it_is_told(generator):
    with pytest.raises(TypeError):
        gan.export_shipped({"conv": generator}, "abc")  # no default folder: the chapter decides
    with pytest.raises(ValueError, match="key must be a non-empty string"):
        gan.export_shipped({"conv": generator}, "", dest=shipped_mod.SHIPPED_DIR)


def test_the_module_example_runs(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(shipped_mod, "SHIPPED_DIR", tmp_path)
    gan.export_shipped({"conv": generator}, "example", dest=tmp_path)
    finder = doctest.DocTestFinder(recurse=False)
    (test,) = finder.find(shipped_mod, "prunegan.gan.shipped", globs={})
    assert len(test.examples) == 5
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, clear_globs=False)
    assert runner.failures == 0 and runner.tries == 5
    net, g = test.globs["net"], test.globs["g"]
    assert isinstance(test.globs["best"], ChannelMask) and len(test.globs["masks"]) == 5
    assert all(torch.equal(test.globs["keep"][k], v) for k, v in g.keep_probabilities(net, 0.8).items())
