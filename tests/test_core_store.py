"""prunegan.core.store: config hashing, run folders keyed with RESULTS_VERSION, atomic writes,
corrupt-file handling."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from prunegan.core import store
from prunegan.core.store import RESULTS_VERSION, CorruptCacheWarning, Run
from prunegan.train import TrainConfig


@dataclasses.dataclass(frozen=True)
class Inner:
    sparsities: tuple = (0.1, 0.2)
    path: Path = Path("a/b")


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = Inner()
    train: TrainConfig = TrainConfig(epochs=2, device="cpu")


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------- config_digest / weights_digest

def test_config_digest_is_short_hex_of_canonical_json():
    config = {"b": 2, "a": [1, 2.5, "x"]}
    full = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert store.config_digest(config) == full[:16]
    assert store.config_digest(config, n=10) == full[:10] and store.config_digest(config, n=64) == full
    for bad in (0, 65, 10.0, True):
        with pytest.raises(ValueError, match="1 to 64 hex digits"):
            store.config_digest(config, n=bad)


def test_config_digest_is_stable_across_versions():
    # Changing these values orphans every cached result: do so only on purpose.
    assert store.config_digest({"a": 1}, n=10) == "015abd7f5c"
    assert store.config_digest(TrainConfig(), n=10) == "4041f68dd3"


def test_config_digest_ignores_key_order_and_container_type():
    assert store.config_digest({"a": 1, "b": 2}) == store.config_digest({"b": 2, "a": 1})
    assert store.config_digest({"s": (0.1, 0.2)}) == store.config_digest({"s": [0.1, 0.2]})
    assert store.config_digest(TrainConfig(epochs=3)) == store.config_digest(TrainConfig(epochs=3).to_dict())
    assert store.config_digest(Outer()) == store.config_digest(Outer(inner=Inner(sparsities=[0.1, 0.2])))
    assert store.config_digest(Outer()) == store.config_digest(store.to_plain(Outer()))


def test_config_digest_is_sensitive_to_every_field():
    base = TrainConfig()
    changes = dict(epochs=11, batch_size=65, lr=2e-3, optimizer="sgd", weight_decay=1e-4, seed=1,
                   device="cpu")
    assert set(changes) == {f.name for f in dataclasses.fields(TrainConfig)}
    hashes = {store.config_digest(dataclasses.replace(base, **{k: v})) for k, v in changes.items()}
    assert len(hashes) == len(changes) and store.config_digest(base) not in hashes
    nested = {store.config_digest(Outer()), store.config_digest(Outer(inner=Inner(sparsities=(0.1, 0.3)))),
              store.config_digest(Outer(train=TrainConfig(epochs=3, device="cpu"))),
              store.config_digest(Outer(inner=Inner(path=Path("a/c"))))}
    assert len(nested) == 4
    assert store.config_digest({"x": 1}) != store.config_digest({"x": 1.5})
    assert store.config_digest({"x": 1}) != store.config_digest({"x": "1"})


def test_to_plain():
    plain = store.to_plain(Outer())
    assert plain["inner"] == {"sparsities": [0.1, 0.2], "path": "a/b"}
    assert plain["train"]["epochs"] == 2
    json.dumps(plain)  # JSON-able


def test_weights_digest_names_tensors_by_value_name_dtype_and_shape():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    digest = store.weights_digest(net)
    assert len(digest) == 16 and len(store.weights_digest(net, n=40)) == 40
    assert store.weights_digest(net.state_dict()) == digest  # a module is its state_dict
    assert store.weights_digest(dict(reversed(list(net.state_dict().items())))) == digest  # in name order
    same = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    same.load_state_dict(net.state_dict())
    assert store.weights_digest(same) == digest
    with torch.no_grad():
        same[2].bias.add_(1e-7)  # one float changed
    assert store.weights_digest(same) != digest
    t = torch.arange(6, dtype=torch.float32)
    assert store.weights_digest([t]) != store.weights_digest([t.reshape(2, 3)])  # shape
    assert store.weights_digest([t]) != store.weights_digest([t.double()])  # dtype
    assert store.weights_digest([t, t[:0]]) != store.weights_digest([t[:0], t])  # order of a sequence
    assert store.weights_digest({"a": t}) != store.weights_digest({"b": t})  # name
    assert store.weights_digest([t.to(torch.bfloat16)])  # dtypes numpy lacks
    with pytest.raises(ValueError, match="not a tensor"):
        store.weights_digest({"a": [1.0]})


# --------------------------------------------------------------------------------------- Run folder

def test_run_folder_under_prunegan_results(isolated_dirs):
    run = Run("sweep", Outer())
    assert store.results_root() == isolated_dirs.results
    key = {"version": RESULTS_VERSION, "config": Outer()}
    assert run.path == isolated_dirs.results / f"sweep_{store.config_digest(key, n=10)}"
    assert run.path.name != f"sweep_{store.config_digest(Outer(), n=10)}"  # the version is part of the key
    assert json.loads(run.file("config.json").read_text()) == {"version": RESULTS_VERSION,
                                                                "config": store.to_plain(Outer())}
    assert not (store.REPO_ROOT / "results" / run.path.name).exists()


def test_repo_root_is_the_checkout_and_holds_the_default_results(monkeypatch):
    # store.py moved into core/: REPO_ROOT must still be the repository root, not lib/
    assert (store.REPO_ROOT / "lib" / "prunegan" / "core" / "store.py").is_file()
    monkeypatch.delenv("PRUNEGAN_RESULTS")
    assert store.in_checkout()
    assert store.results_root() == store.REPO_ROOT / "results"
    monkeypatch.setenv("HOME", "/nonexistent-home")  # the user's cache folder plays no part in a checkout
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent-cache")
    assert store.results_root() == store.REPO_ROOT / "results"


def _pyproject(root: Path, name: str = "prunegan") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')


def test_is_checkout_only_for_a_prunegan_checkouts_lib_folder(tmp_path):
    assert store.is_checkout(store.REPO_ROOT, Path(store.__file__).resolve().parents[1])
    clone = tmp_path / "clone"
    _pyproject(clone)
    (clone / "lib" / "prunegan" / "core").mkdir(parents=True)
    assert store.is_checkout(clone, clone / "lib" / "prunegan")
    assert not store.is_checkout(clone, tmp_path / "elsewhere" / "prunegan")  # another copy's folder
    # an installed copy: three levels above site-packages/prunegan/core/store.py is lib/python3.11/..
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "prunegan" / "core").mkdir(parents=True)
    assert not store.is_checkout(site.parents[1], site / "prunegan")
    # pip install --target DIR: DIR's parent, even when it holds a pyproject.toml and a lib/ folder
    _pyproject(tmp_path / "proj")
    (tmp_path / "proj" / "lib" / "prunegan").mkdir(parents=True)
    assert not store.is_checkout(tmp_path / "proj", tmp_path / "proj" / "target" / "prunegan")
    other = tmp_path / "other"
    _pyproject(other, name="someone-else")
    (other / "lib" / "prunegan").mkdir(parents=True)
    assert not store.is_checkout(other, other / "lib" / "prunegan")  # pyproject.toml names another project
    (other / "pyproject.toml").write_text("not [toml")
    assert not store.is_checkout(other, other / "lib" / "prunegan")
    (other / "pyproject.toml").unlink()
    assert not store.is_checkout(other, other / "lib" / "prunegan")


def test_outside_a_checkout_results_go_to_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(store, "in_checkout", lambda: False)
    monkeypatch.delenv("PRUNEGAN_RESULTS")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.results_root() == tmp_path / "home" / ".cache" / "prunegan" / "results"
    run = Run("sweep", Outer())
    assert run.path.parent == tmp_path / "home" / ".cache" / "prunegan" / "results"
    assert run.file("config.json").is_file()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.results_root() == tmp_path / "xdg" / "prunegan" / "results"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec: a relative path is ignored
    assert store.results_root() == tmp_path / "home" / ".cache" / "prunegan" / "results"
    monkeypatch.setenv("PRUNEGAN_RESULTS", str(tmp_path / "mine"))  # still wins
    assert store.results_root() == tmp_path / "mine"


def test_run_explicit_root_and_same_config_same_folder(tmp_path):
    a = Run("train", TrainConfig(), root=tmp_path)
    b = Run("train", TrainConfig(), root=str(tmp_path))
    c = Run("train", TrainConfig(seed=1), root=tmp_path)
    d = Run("sweep", TrainConfig(), root=tmp_path)
    assert a.path == b.path and a.path.parent == tmp_path
    assert len({a.path, c.path, d.path}) == 3
    a.write_json("metrics.json", {"acc": 0.5})
    assert b.read_json("metrics.json") == {"acc": 0.5} and b.exists("metrics.json")
    assert c.read_json("metrics.json") is None and not c.exists("metrics.json")


def test_results_version_bump_moves_every_run_to_a_new_folder(tmp_path, monkeypatch):
    old = Run("sweep", {"k": 1}, root=tmp_path)
    old.write_json("rows.json", [1, 2])
    assert isinstance(RESULTS_VERSION, int) and RESULTS_VERSION >= 1
    monkeypatch.setattr(store, "RESULTS_VERSION", RESULTS_VERSION + 1)
    new = Run("sweep", {"k": 1}, root=tmp_path)
    assert new.path != old.path and new.path.parent == tmp_path
    assert new.read_json("rows.json") is None  # results of the old code are not reused
    assert new.read_json("config.json") == {"version": RESULTS_VERSION + 1, "config": {"k": 1}}
    monkeypatch.setattr(store, "RESULTS_VERSION", RESULTS_VERSION)
    assert Run("sweep", {"k": 1}, root=tmp_path).read_json("rows.json") == [1, 2]


def test_json_and_torch_round_trip(tmp_path):
    run = Run("r", {"k": 1}, root=tmp_path)
    run.write_json("m.json", {"rows": [{"a": 1, "b": (2, 3)}], "cfg": TrainConfig()})
    assert run.read_json("m.json") == {"rows": [{"a": 1, "b": [2, 3]}], "cfg": TrainConfig().to_dict()}
    state = {"w": torch.randn(3, 4), "mask": torch.tensor([True, False])}
    run.save_torch("ckpt.pt", state)
    loaded = run.load_torch("ckpt.pt")
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    run.write_json("m.json", [1])  # overwrite
    assert run.read_json("m.json") == [1]
    assert files(run.path) == ["ckpt.pt", "config.json", "m.json"]  # no temporary files left behind


def test_missing_file_reads_as_none_without_warning(tmp_path, recwarn):
    run = Run("r", {"k": 2}, root=tmp_path)
    assert run.read_json("nothing.json") is None and run.load_torch("nothing.pt") is None
    assert not [w for w in recwarn if issubclass(w.category, CorruptCacheWarning)]


# ------------------------------------------------------------------------------------ atomic writes

def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    run = Run("r", {"k": 3}, root=tmp_path)
    run.write_json("m.json", {"good": True})
    run.save_torch("t.pt", {"good": torch.ones(2)})
    with pytest.raises(TypeError):
        run.write_json("m.json", {"bad": object()})  # not JSON-able
    with pytest.raises(Exception):
        run.save_torch("t.pt", {"bad": lambda: 0})  # not picklable
    assert run.read_json("m.json") == {"good": True}
    assert torch.equal(run.load_torch("t.pt")["good"], torch.ones(2))
    assert files(run.path) == ["config.json", "m.json", "t.pt"]


def test_atomic_write_interrupted_midway(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    store.atomic_write(target, lambda p: p.write_text("complete"))
    assert target.read_text() == "complete"

    def half_then_crash(p: Path):
        p.write_text("compl")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.atomic_write(target, half_then_crash)
    assert target.read_text() == "complete"
    assert files(target.parent) == ["f.txt"]
    fresh = tmp_path / "new" / "g.txt"
    with pytest.raises(KeyboardInterrupt):
        store.atomic_write(fresh, half_then_crash)
    assert not fresh.exists() and files(fresh.parent) == []


def test_atomic_write_returns_the_path_and_accepts_a_string(tmp_path):
    out = store.atomic_write(str(tmp_path / "a" / "b.txt"), lambda p: p.write_text("x"))
    assert out == tmp_path / "a" / "b.txt" and isinstance(out, Path) and out.read_text() == "x"


def test_save_torch_is_atomic(tmp_path):
    path = tmp_path / "deep" / "state.pt"
    assert store.save_torch(path, {"w": torch.arange(3)}) == path
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3))
    with pytest.raises(Exception):
        store.save_torch(path, {"bad": lambda: 0})  # not picklable: the old file stays
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3))
    assert files(path.parent) == ["state.pt"]


# ------------------------------------------------------------------------------------ corrupt files

@pytest.mark.parametrize("content", [b"{not json", b"", b"\x00\xff\xfe", b'{"a": 1'])
def test_corrupt_json_is_reported_deleted_and_none(tmp_path, content):
    run = Run("r", {"k": 4}, root=tmp_path)
    path = run.file("metrics.json")
    path.write_bytes(content)
    with pytest.warns(CorruptCacheWarning, match="metrics.json"):
        assert run.read_json("metrics.json") is None
    assert not path.exists()
    run.write_json("metrics.json", {"ok": 1})  # recomputed result is written and read normally
    assert run.read_json("metrics.json") == {"ok": 1}


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_torch_file_is_reported_deleted_and_none(tmp_path, damage):
    run = Run("r", {"k": 5}, root=tmp_path)
    path = run.file("model.pt")
    if damage == "garbage":
        path.write_bytes(b"this is not a torch file")
    else:
        run.save_torch("model.pt", {"w": torch.randn(100, 100)})
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    with pytest.warns(CorruptCacheWarning) as record:
        assert run.load_torch("model.pt") is None
    assert str(path) in str(record[0].message)
    assert not path.exists()


def test_torch_file_with_arbitrary_objects_is_not_unpickled(tmp_path):
    # weights_only loading: a pickled arbitrary object is refused (treated as corrupt), never executed
    run = Run("r", {"k": 6}, root=tmp_path)
    torch.save({"cfg": Outer()}, run.file("evil.pt"))
    with pytest.warns(CorruptCacheWarning):
        assert run.load_torch("evil.pt") is None


def test_corrupt_config_json_is_rewritten(tmp_path):
    first = Run("r", {"k": 7}, root=tmp_path)
    first.file("config.json").write_text("{broken")
    with pytest.warns(CorruptCacheWarning):
        again = Run("r", {"k": 7}, root=tmp_path)
    assert again.read_json("config.json") == {"version": RESULTS_VERSION, "config": {"k": 7}}


def test_corrupt_cache_warning_is_a_user_warning():
    assert issubclass(CorruptCacheWarning, UserWarning)
