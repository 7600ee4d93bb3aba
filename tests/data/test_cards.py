"""Dataset cards: parsing and errors, the cache, builds that resume, determinism, real samplers."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import pytest

import physxai.data._io as data_io
from physxai.data import (
    GENERATORS,
    Generator,
    build,
    cache_path,
    expand_grid,
    find_cards,
    get_card,
    is_cached,
    load,
    read,
    read_card,
    register_generator,
)
from physxai.errors import InvalidDataError

REPO_CARDS = Path(__file__).resolve().parents[2] / "datasets"


# --------------------------------------------------------------------------------------------
# a fake generator: counts its calls and can fail at a given chunk


class Fake:
    calls: ClassVar[list[tuple[float, ...]]] = []
    fail_at: ClassVar[float | None] = None


def _fake(params, seed):
    values = tuple(params["values"])
    if Fake.fail_at is not None and Fake.fail_at in values:
        raise RuntimeError("fake generator failed half-way")
    Fake.calls.append(values)
    rng = np.random.default_rng(seed)
    n = len(values) * params["n_per_value"]
    value = np.repeat(np.asarray(values), params["n_per_value"])
    inputs = rng.normal(size=(n, 3)).astype(np.float32)
    return (
        inputs,
        (value > 1.0).astype(np.int64),
        {"value": value},
        {"norm": np.linalg.norm(inputs, axis=1).astype(np.float64)},
        {"dims": "sample,feature", "units": "arbitrary", "target_names": ["low", "high"]},
    )


FAKE = Generator(
    name="fake",
    function=_fake,
    version="1",
    description="test generator",
    required=("values",),
    defaults={"n_per_value": 2, "values_per_chunk": 1},
    grids=("values",),
    split=lambda p: [
        {**p, "values": p["values"][i : i + p["values_per_chunk"]]}
        for i in range(0, len(p["values"]), p["values_per_chunk"])
    ],
    filename_key=lambda p: f"v{len(expand_grid(p['values'], 'values'))}",
)

CARD = """\
name = "{name}"
description = "a tiny test card"
generator = "fake"
seed = {seed}

[parameters]
values = [0.5, 1.0, 1.5, 2.0]
n_per_value = 3
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Cards in tmp_path/cards, cache in tmp_path/cache, the fake generator registered."""
    cards = tmp_path / "cards"
    cards.mkdir()
    monkeypatch.setenv("PHYSXAI_CARDS", str(cards))
    monkeypatch.setenv("PHYSXAI_DATA", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(GENERATORS, "fake", FAKE)
    Fake.calls, Fake.fail_at = [], None
    (cards / "tiny.toml").write_text(CARD.format(name="tiny", seed=0))
    return cards


# --------------------------------------------------------------------------------------------
# cards


def test_a_card_is_read_with_defaults_and_a_stable_name(env):
    card = read_card(env / "tiny.toml")
    assert (card.name, card.generator, card.seed) == ("tiny", "fake", 0)
    assert card.parameters == {
        "values": [0.5, 1.0, 1.5, 2.0],
        "n_per_value": 3,
        "values_per_chunk": 1,
    }
    assert len(card.digest) == 8 and int(card.digest, 16) >= 0
    assert card.filename == f"tiny_v4_s0_{card.digest}.h5"
    assert cache_path("tiny") == env.parent / "cache" / card.filename
    assert read_card(env / "tiny.toml").digest == card.digest
    (env / "tiny.toml").write_text(CARD.format(name="tiny", seed=1))
    assert read_card(env / "tiny.toml").digest != card.digest  # any change renames the cache
    assert find_cards()["tiny"] == env / "tiny.toml"
    assert get_card("tiny").path == env / "tiny.toml"
    assert get_card(str(env / "tiny.toml")).name == "tiny"


def test_without_physxai_data_the_cache_sits_beside_the_card(env, monkeypatch):
    monkeypatch.delenv("PHYSXAI_DATA")
    assert cache_path("tiny").parent == env / "cache"


HEAD = 'name = "bad"\ndescription = "x"\ngenerator = "{generator}"\nseed = {seed}\n'


def _bad(parameters: str, generator: str = "fake", seed: str = "0", head: str = HEAD) -> str:
    return head.format(generator=generator, seed=seed) + "[parameters]\n" + parameters


BAD_CARDS = [
    (_bad("", generator="nope"), r"field 'generator' names an unknown generator 'nope'; .*fake"),
    (
        _bad("values = [1.0]\n", head=HEAD.replace("seed = {seed}\n", "")),
        r"field 'seed' is missing",
    ),
    (HEAD.format(generator="fake", seed=0), r"field 'parameters' is missing"),
    (
        _bad("values = [1.0]\n", head=HEAD.replace('description = "x"\n', "")),
        r"field 'description' is missing",
    ),
    (_bad("values = [1.0]\n", head=HEAD + "sede = 1\n"), r"field 'sede' is not a card field"),
    (
        _bad("values = [1.0]\n", head=HEAD.replace('"bad"', '"other"')),
        r"field 'name' must equal the file's stem 'bad'",
    ),
    (_bad("values = [1.0]\n", seed="-1"), r"field 'seed' must be an int >= 0"),
    (_bad("values = [1.0]\n", seed='"0"'), r"field 'seed' must be an int >= 0"),
    (
        _bad("values = [1.0]\n", head=HEAD.replace('"x"', "3")),
        r"field 'description' must be a string",
    ),
    (_bad(""), r"\[parameters\] values is missing; generator 'fake' requires values"),
    (_bad("values = [1.0]\nvalue = 2\n"), r"\[parameters\] value is not a parameter of generator"),
    (
        _bad("values = {linspace = [0, 1]}\n"),
        r"\[parameters\] values: linspace must be \[start, stop, num\]",
    ),
    (_bad('values = "1, 2"\n'), r"\[parameters\] values must be a number, a list"),
    (_bad("values = []\n"), r"\[parameters\] values must not be empty"),
    (
        _bad("lattice_size = 0\ntemperatures = [1.0]\nn_samples = 2\n", generator="ising"),
        r"\[parameters\] lattice_size must be an int >= 1; got 0",
    ),
    (
        _bad(
            'lattice_size = 4\ntemperatures = [1.0]\nn_samples = 2\ntarget = "phases"\n',
            generator="ising",
        ),
        r"\[parameters\] target must be one of 'phase', 'temperature'",
    ),
    (
        _bad("n_pairs = 10\nnegative_fraction = 1.5\n", generator="orbit_pairs"),
        r"\[parameters\] negative_fraction must be a number in \[0, 1\]",
    ),
    (
        _bad(
            "n_sites = 4\nn_particles = 2\nv1 = [1.0]\nvalues_per_chunk = 0\n", generator="hubbard"
        ),
        r"\[parameters\] values_per_chunk must be an int >= 1",
    ),
    ('name = "bad\ndescription = "x"\n', r"not valid TOML"),
]


@pytest.mark.parametrize("text, match", BAD_CARDS)
def test_a_bad_card_names_the_card_file_and_the_field(env, text, match):
    path = env / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"bad\.toml: .*" + match):
        read_card(path)
    with pytest.raises(ValueError, match=match):  # the same error from load and build
        load("bad")


def test_an_unknown_card_lists_the_known_ones(env):
    with pytest.raises(ValueError, match=r"no dataset card named 'nosuch'; known: .*tiny"):
        load("nosuch")
    with pytest.raises(FileNotFoundError, match="no such card"):
        read_card(env / "nosuch.toml")


def test_expand_grid_forms():
    assert expand_grid(2, "g") == [2.0]
    assert expand_grid([1, 2.5], "g") == [1.0, 2.5]
    assert expand_grid({"linspace": [0, 1, 5]}, "g") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert expand_grid({"values": [3, 4]}, "g") == [3.0, 4.0]
    grid = expand_grid([{"linspace": [0.0, 1.0, 500]}, {"linspace": [1.01, 40.0, 500]}], "g")
    np.testing.assert_array_equal(
        grid, np.concatenate([np.linspace(0, 1, 500), np.linspace(1.01, 40, 500)])
    )
    for bad in ([[1, 2]], {"linspace": [0, 1, 0]}, {"arange": [0, 1]}, True, float("nan")):
        with pytest.raises(ValueError, match="g"):
            expand_grid(bad, "g")


def test_register_generator_refuses_duplicates_and_other_types(monkeypatch):
    monkeypatch.setattr("physxai.data._generators.GENERATORS", dict(GENERATORS))
    with pytest.raises(ValueError, match="a generator named 'ising' exists"):
        register_generator(Generator(name="ising", function=_fake))
    with pytest.raises(TypeError, match="generator must be a physxai.data.Generator"):
        register_generator(_fake)
    g = register_generator(Generator(name="ising", function=_fake), replace=True)
    assert g.function is _fake


# --------------------------------------------------------------------------------------------
# building and caching


def test_a_build_waits_for_another_process_building_the_same_card(env):
    """Two builds of one card must not run at once (they would share chunk files and remove
    each other's parts directory): a second build blocks on the lock, then finds the file."""
    import fcntl
    import threading

    path = cache_path("tiny")
    path.parent.mkdir(parents=True)
    lock = path.with_name(f".{path.name}.lock")
    messages = []
    with open(lock, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # "another process" holds the build
        worker = threading.Thread(target=lambda: build("tiny", log=messages.append))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and Fake.calls == [] and not path.exists()
        assert any("another process is building it" in m for m in messages)
        fcntl.flock(fh, fcntl.LOCK_UN)
    worker.join(timeout=30)
    assert not worker.is_alive() and path.is_file() and len(Fake.calls) == 4
    assert not lock.exists()  # removed after a successful build
    # while one build holds the lock and completes the file, the waiter does not build again
    Fake.calls.clear()
    with open(lock, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        path.unlink()
        worker = threading.Thread(target=lambda: build("tiny", log=messages.append))
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()
        data_io.write(path, inputs=np.zeros((1, 3), np.float32), targets=np.zeros(1, np.int64))
        fcntl.flock(fh, fcntl.LOCK_UN)
    worker.join(timeout=30)
    assert Fake.calls == [] and any("built by another process" in m for m in messages)


def test_load_builds_on_first_use_and_then_reads_the_cache(env):
    assert not is_cached("tiny")
    d = load("tiny")
    assert len(Fake.calls) == 4  # one call per chunk (one value each)
    assert is_cached("tiny")
    path = cache_path("tiny")
    mtime = path.stat().st_mtime_ns
    again = load("tiny")
    assert len(Fake.calls) == 4 and path.stat().st_mtime_ns == mtime  # not rebuilt
    np.testing.assert_array_equal(again.inputs, d.inputs)
    assert d.inputs.shape == (12, 3) and d.inputs.dtype == np.float32
    np.testing.assert_array_equal(d.params["value"], np.repeat([0.5, 1.0, 1.5, 2.0], 3))
    np.testing.assert_array_equal(d.targets, np.repeat([0, 0, 1, 1], 3))
    assert d.attrs["name"] == "tiny" and d.attrs["generator"] == "fake"
    assert d.attrs["generator_version"] == "1" and d.attrs["seed"] == 0
    assert d.parameters == read_card(env / "tiny.toml").parameters
    assert d.attrs["card_digest"] == read_card(env / "tiny.toml").digest
    assert 'generator = "fake"' in d.attrs["card"]
    assert d.attrs["target_names"] == ["low", "high"]
    assert d.input_attrs == {"dims": "sample,feature", "units": "arbitrary"}
    # the cache directory holds the file only: no chunks, no temporaries
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    # a path to the file loads too
    np.testing.assert_array_equal(load(path).inputs, d.inputs)


def test_build_twice_does_nothing_and_force_rebuilds(env):
    messages = []
    path = build("tiny", log=messages.append)
    assert build("tiny", log=messages.append) == path and len(Fake.calls) == 4
    assert "already built" in messages[-1]
    first = read(path).inputs
    build("tiny", force=True)
    assert len(Fake.calls) == 8
    np.testing.assert_array_equal(read(path).inputs, first)
    load("tiny", force=True)
    assert len(Fake.calls) == 12


def test_the_same_card_and_seed_give_bit_identical_data(env, tmp_path, monkeypatch):
    a = read(build("tiny"))
    monkeypatch.setenv("PHYSXAI_DATA", str(tmp_path / "other_cache"))
    b = read(build("tiny"))
    assert a.path != b.path
    for x, y in [
        (a.inputs, b.inputs),
        (a.targets, b.targets),
        (a.params["value"], b.params["value"]),
        (a.observables["norm"], b.observables["norm"]),
    ]:
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    (env / "tiny.toml").write_text(CARD.format(name="tiny", seed=1))
    c = read(build("tiny"))
    assert not np.array_equal(a.inputs, c.inputs)  # another seed, other data
    # each chunk has its own seed: no two chunks repeat the same draws
    assert len({a.inputs[3 * i].tobytes() for i in range(4)}) == 4


def test_a_build_that_fails_half_way_leaves_no_file_and_resumes(env, tmp_path, monkeypatch):
    Fake.fail_at = 1.5  # the third chunk raises
    with pytest.raises(RuntimeError, match="half-way"):
        build("tiny")
    path = cache_path("tiny")
    assert not path.exists() and not is_cached("tiny")
    assert not list(path.parent.glob("*.h5")) and not list(path.parent.glob(".*.tmp"))
    with pytest.raises(RuntimeError, match="half-way"):
        load("tiny")  # never serves a partial file
    assert Fake.calls == [(0.5,), (1.0,)]
    Fake.fail_at = None
    messages = []
    build("tiny", log=messages.append)
    assert Fake.calls == [(0.5,), (1.0,), (1.5,), (2.0,)]  # resumed: only the missing chunks
    assert "resuming with 2 done" in messages[0]
    resumed = read(path)
    monkeypatch.setenv("PHYSXAI_DATA", str(tmp_path / "fresh"))
    fresh = read(build("tiny"))
    assert resumed.inputs.tobytes() == fresh.inputs.tobytes()
    assert resumed.observables["norm"].tobytes() == fresh.observables["norm"].tobytes()


def test_an_interrupt_during_the_final_write_leaves_nothing_that_looks_complete(env, monkeypatch):
    real_replace = os.replace

    def interrupted(src, dst):
        if str(dst).endswith(".h5"):  # the final file, after every chunk was saved
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(data_io.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build("tiny")
    monkeypatch.setattr(data_io.os, "replace", real_replace)
    path = cache_path("tiny")
    assert not path.exists() and not list(path.parent.glob(".*.tmp"))
    build("tiny")
    assert len(Fake.calls) == 4  # every chunk had been saved: the rebuild only joins them
    assert read(path).inputs.shape == (12, 3)


def test_a_stale_temporary_file_of_a_killed_writer_is_removed(env):
    path = build("tiny")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = path.with_name(f".{path.name}.{dead.pid}.abcd1234.tmp")
    stale.write_bytes(path.read_bytes())  # a complete-looking file under a temporary name
    live = path.with_name(f".{path.name}.{os.getpid()}.abcd1234.tmp")
    live.write_bytes(b"being written")
    path.unlink()
    assert not is_cached("tiny")
    build("tiny")
    assert not stale.exists() and live.exists()  # a live writer's file is left alone
    live.unlink()


def test_a_damaged_chunk_is_generated_again(env):
    Fake.fail_at = 2.0
    with pytest.raises(RuntimeError):
        build("tiny")
    parts = sorted(cache_path("tiny").parent.glob(".*.parts/chunk_*.npz"))
    assert len(parts) == 3
    parts[1].write_bytes(b"PK\x03\x04 truncated")
    Fake.fail_at = None
    build("tiny")
    assert Fake.calls == [(0.5,), (1.0,), (1.5,), (1.0,), (2.0,)]


def test_a_corrupt_cache_file_is_reported_not_served(env):
    path = build("tiny")
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(InvalidDataError, match=rf"{path.name}.*(truncated|corrupt)"):
        load("tiny")
    assert read(build("tiny", force=True)).inputs.shape == (12, 3)


@pytest.mark.slow
def test_a_build_killed_by_sigkill_resumes_cleanly(env, tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_cards as t
        from physxai.data import GENERATORS, build
        import physxai.data._io as io
        GENERATORS["fake"] = t.FAKE
        real_replace = os.replace
        def replace(a, b):  # killed just before the final file is renamed into place
            if str(b).endswith(".h5"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(a, b)
        io.os.replace = replace
        build("tiny")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], check=False, env=os.environ.copy(), timeout=120
    )
    assert proc.returncode == -9
    path = cache_path("tiny")
    assert not path.exists()
    assert list(path.parent.glob(".*.tmp"))  # the killed writer's complete-looking temp file
    build("tiny")
    assert not list(path.parent.glob(".*.tmp")) and Fake.calls == []  # chunks were saved
    assert read(path).inputs.shape == (12, 3)


# --------------------------------------------------------------------------------------------
# the shipped cards and the real generators


EXPECTED = {  # card -> number of samples its parameters describe
    "wetzel2017_quick": 40 * 100,
    "wetzel2017_full": 100 * 500,
    "wetzel2017_afm": 50 * 200,
    "wetzel2017_cpnn_quick": 31 * 100,
    "wetzel2017_cpnn": 61 * 400,
    "wetzel2020_relativity_quick": 4000,
    "wetzel2020_relativity": 50000,
    "wetzel2020_orbits_quick": 4000,
    "wetzel2020_orbits": 50000,
    "dawid2020_train": 1000,
    "dawid2020_test": 45,
    "dawid2020_quick_train": 400,
    "dawid2020_quick_test": 45,
    "miles2021_quick": 2 * 2000,
    "miles2021_full": 2 * 5000,
}


def _n_samples(card):
    p = card.expanded_parameters()
    if card.generator == "ising":
        return len(p["temperatures"]) * p["n_samples"]
    if card.generator == "hubbard":
        return len(p["v1"])
    if card.generator == "snapshots":
        return 2 * p["n_samples"]  # per class
    return p["n_pairs"]


def test_every_shipped_card_is_valid_and_the_sizes_match_the_papers():
    paths = sorted(REPO_CARDS.glob("*.toml"))
    names = {p.stem for p in paths}
    assert set(EXPECTED) | {"digits", "breast_cancer"} <= names
    for path in paths:
        card = read_card(path)
        assert card.description and card.generator in GENERATORS
        if card.name in EXPECTED:
            assert _n_samples(card) == EXPECTED[card.name], card.name
    full = read_card(REPO_CARDS / "wetzel2017_full.toml").expanded_parameters()
    assert full["lattice_size"] == 28 and full["temperatures"][0] == 0.05
    assert full["temperatures"][-1] == 5.0
    quick = read_card(REPO_CARDS / "wetzel2017_quick.toml").expanded_parameters()
    assert quick["lattice_size"] == 16 and len(quick["temperatures"]) == 40
    train = np.asarray(read_card(REPO_CARDS / "dawid2020_train.toml").expanded_parameters()["v1"])
    assert (train <= 1).sum() == 500 and (train > 1).sum() == 500 and train.max() == 40.0
    test = np.asarray(read_card(REPO_CARDS / "dawid2020_test.toml").expanded_parameters()["v1"])
    assert ((test > 0) & (test < 1)).sum() == 20
    assert ((test >= 1.02) & (test <= 2)).sum() == 5 and (test >= 2.066).sum() == 20
    quick_train = read_card(REPO_CARDS / "dawid2020_quick_train.toml")
    assert quick_train.parameters["n_sites"] == 10 and _n_samples(quick_train) == 400


def _tiny_card(env, name, generator, parameters, seed=0):
    body = "\n".join(f"{k} = {v}" for k, v in parameters.items())
    (env / f"{name}.toml").write_text(
        f'name = "{name}"\ndescription = "tiny"\ngenerator = "{generator}"\nseed = {seed}\n'
        f"[parameters]\n{body}\n"
    )
    return name


def test_a_tiny_hubbard_card_builds_exact_ground_states(env):
    from physxai.physics import hubbard

    name = _tiny_card(
        env,
        "hub",
        "hubbard",
        {
            "n_sites": 4,
            "n_particles": 2,
            "v1": "[0.5, {linspace = [1.5, 3.0, 2]}]",
            "values_per_chunk": 2,
        },
    )
    d = load(name)
    assert d.inputs.shape == (3, 6) and d.inputs.dtype == np.float32
    np.testing.assert_array_equal(d.params["v1"], [0.5, 1.5, 3.0])
    np.testing.assert_array_equal(d.targets, [0, 1, 1])
    np.testing.assert_allclose(d.inputs, hubbard.ground_states([0.5, 1.5, 3.0], 4, 2), atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(d.inputs, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        d.observables["cdw_order_parameter"],
        hubbard.cdw_order_parameter(hubbard.ground_states([0.5, 1.5, 3.0], 4, 2), 4, 2),
    )
    occupations = hubbard.basis(4, 2)
    codes = [int(sum(int(b) << i for i, b in enumerate(row))) for row in occupations]
    assert d.attrs["basis_codes"] == codes and d.dims == ("sample", "basis")


def _importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@pytest.mark.skipif(not _importable("physxai.physics.orbits"), reason="orbit sampler not written")
def test_a_tiny_orbit_pair_card_carries_both_invariants(env):
    from physxai.physics import orbits

    d = load(_tiny_card(env, "orb", "orbit_pairs", {"n_pairs": 8, "sampler": "{t_max = 2.0}"}))
    assert d.inputs.shape == (8, 2, 4) and d.inputs.dtype == np.float32
    assert set(d.targets.tolist()) == {0, 1} and d.targets.sum() == 4
    x = d.inputs.astype(np.float64)
    np.testing.assert_allclose(
        d.observables["angular_momentum"], orbits.angular_momentum(x[:, 0]), rtol=1e-5, atol=1e-6
    )
    same = d.targets == 1  # one orbit: the invariants agree
    np.testing.assert_allclose(d.observables["energy"][same], d.observables["energy_second"][same])


@pytest.mark.skipif(
    not _importable("physxai.physics.relativity"), reason="relativity sampler not written"
)
def test_a_tiny_relativity_pair_card_carries_the_interval(env):
    d = load(_tiny_card(env, "rel", "relativity_pairs", {"n_pairs": 8}))
    assert d.inputs.shape == (8, 2, 4) and d.inputs.dtype == np.float32
    x = d.inputs.astype(np.float64)
    s2 = x[:, 0, 0] ** 2 - (x[:, 0, 1:] ** 2).sum(axis=1)  # t^2 - x^2 - y^2 - z^2
    np.testing.assert_allclose(d.observables["interval"], s2, rtol=1e-5, atol=1e-5)
    same = d.targets == 1
    np.testing.assert_allclose(
        d.observables["interval"][same],
        d.observables["interval_second"][same],
        rtol=1e-6,
        atol=1e-6,
    )


class _FakeIsing:
    """Stands in for physics.ising with its documented API, recording each call."""

    CRITICAL_TEMPERATURE = 2 / np.log(1 + np.sqrt(2))

    def __init__(self):
        self.calls = []

    def sample(self, *, lattice_size, temperatures, n_samples, algorithm, coupling, seed, **kw):
        self.calls.append((list(temperatures), algorithm, coupling, seed, kw))
        rng = np.random.default_rng(seed)
        n = len(temperatures) * n_samples
        spins = rng.choice(np.array([-1, 1], np.int8), size=(n, lattice_size, lattice_size))
        return types.SimpleNamespace(
            spins=spins,
            temperature=np.repeat(np.asarray(temperatures, dtype=float), n_samples),
            magnetization=spins.reshape(n, -1).mean(axis=1),
            energy=-np.ones(n),
        )


def test_the_ising_generator_calls_the_sampler_per_chunk(env, monkeypatch):
    import physxai.physics

    fake = _FakeIsing()
    monkeypatch.setitem(sys.modules, "physxai.physics.ising", fake)
    monkeypatch.setattr(physxai.physics, "ising", fake, raising=False)
    name = _tiny_card(
        env,
        "ising_fake",
        "ising",
        {
            "lattice_size": 3,
            "temperatures": "{linspace = [1.0, 4.0, 3]}",
            "n_samples": 2,
            "coupling": 0.5,
            "temperatures_per_chunk": 2,
            "sampler": "{n_sweeps = 7}",
            "algorithm": '"metropolis"',
        },
    )
    d = load(name)
    assert [c[0] for c in fake.calls] == [[1.0, 2.5], [4.0]]
    assert all(c[1:3] == ("metropolis", 0.5) and c[4] == {"n_sweeps": 7} for c in fake.calls)
    assert fake.calls[0][3] != fake.calls[1][3]  # each chunk its own seed
    assert d.inputs.shape == (6, 3, 3) and d.inputs.dtype == np.int8
    # T_c = 2|J|/ln(1+sqrt 2) = 1.1346 for J = 0.5: only T = 1.0 is ordered
    assert d.attrs["critical_temperature"] == pytest.approx(0.5 * 2.269185, rel=1e-6)
    np.testing.assert_array_equal(d.targets, [1, 1, 0, 0, 0, 0])
    assert set(d.observables) == {"magnetization", "energy"}
    assert d.attrs["target_names"] == ["disordered", "ordered"]
    (env / "ising_fake.toml").write_text(
        (env / "ising_fake.toml").read_text() + 'target = "temperature"\n'
    )
    d = load(name)
    assert d.targets.dtype == np.float64 and "target_names" not in d.attrs
    np.testing.assert_array_equal(d.targets, d.params["temperature"])


@pytest.mark.skipif(not _importable("physxai.physics.ising"), reason="Ising sampler not written")
def test_a_tiny_ising_card_builds_reproducibly(env, tmp_path, monkeypatch):
    name = _tiny_card(
        env,
        "ising_tiny",
        "ising",
        {
            "lattice_size": 4,
            "temperatures": "[1.0, 4.0]",
            "n_samples": 5,
            "temperatures_per_chunk": 1,
        },
    )
    d = load(name)
    assert d.inputs.shape == (10, 4, 4) and d.inputs.dtype == np.int8
    assert set(np.unique(d.inputs).tolist()) <= {-1, 1}
    np.testing.assert_array_equal(d.params["temperature"], [1.0] * 5 + [4.0] * 5)
    np.testing.assert_array_equal(d.targets, [1] * 5 + [0] * 5)  # ordered below T_c
    m = d.inputs.reshape(10, -1).mean(axis=1)
    np.testing.assert_allclose(d.observables["magnetization"], m, atol=1e-6)
    assert d.attrs["critical_temperature"] == pytest.approx(2 / np.log(1 + np.sqrt(2)))
    assert d.dims == ("sample", "y", "x")
    monkeypatch.setenv("PHYSXAI_DATA", str(tmp_path / "again"))
    again = load(name)
    assert again.inputs.tobytes() == d.inputs.tobytes()
    assert again.observables["energy"].tobytes() == d.observables["energy"].tobytes()


def test_tiny_snapshot_cards_build_both_kinds(env):
    from physxai.physics import snapshots

    name = _tiny_card(
        env,
        "afm",
        "snapshots",
        {"kind": '"afm_vs_random"', "lattice_size": 4, "n_samples": 6, "n_holes": 2},
    )
    d = load(name)
    assert d.inputs.shape == (12, 3, 4, 4) and d.inputs.dtype == np.int8
    assert d.dims == ("sample", "channel", "y", "x") and d.attrs["channel_names"] == [
        "up",
        "down",
        "hole",
    ]
    np.testing.assert_array_equal(d.targets, [0] * 6 + [1] * 6)
    assert d.attrs["target_names"] == ["random", "antiferromagnet"]
    # the random class shuffles the sites of the antiferromagnet: the same densities
    np.testing.assert_array_equal(d.inputs[:6].sum(axis=(2, 3)), d.inputs[6:].sum(axis=(2, 3)))
    np.testing.assert_allclose(d.observables["hole_density"], 2 / 16)
    np.testing.assert_allclose(
        d.observables["nn_spin_correlator"], snapshots.nn_spin_correlator(d.inputs)
    )
    name = _tiny_card(
        env,
        "pf",
        "snapshots",
        {
            "kind": '"pi_flux_vs_strings"',
            "lattice_size": 4,
            "n_samples": 8,
            "n_holes": 2,
            "pi_flux": "{n_chains = 4, n_thermalize = 5, n_between = 1}",
            "n_tune": 40,
            "crop_radius": 1.5,
        },
    )
    d = load(name)
    assert d.inputs.shape == (16, 3, 4, 4) and d.attrs["target_names"] == [
        "pi_flux",
        "geometric_strings",
    ]
    mask = snapshots.circular_mask(4, 1.5)
    assert d.inputs[:, :, ~mask].sum() == 0 and (d.inputs[:, :, mask].sum(axis=1) == 1).all()
    assert 0.0 <= d.attrs["string_length"] <= 5.0 and d.attrs["crop_radius"] == 1.5
    np.testing.assert_allclose(
        d.observables["nn_spin_correlator"], snapshots.nn_spin_correlator(d.inputs, mask)
    )
    bad = _tiny_card(
        env, "bad_kind", "snapshots", {"kind": '"x"', "lattice_size": 4, "n_samples": 2}
    )
    with pytest.raises(ValueError, match="kind must be one of"):
        load(bad)


def test_a_tiny_card_tunes_shell_ising_parents_to_the_pi_flux_correlators(env):
    base = {
        "kind": '"pi_flux_vs_strings"',
        "lattice_size": 6,
        "n_samples": 40,
        "n_holes": 3,
        "pi_flux": "{n_chains = 8, n_thermalize = 5, n_between = 1}",
        "parents": "{n_thermalize = 20, n_between = 2}",
        "n_tune": 200,
        "tune": "{n_iterations = 6, n_thermalize = 20}",
    }
    name = _tiny_card(
        env, "shells", "snapshots", {**base, "parent": '"shell_ising"', "match": '"two_point"'}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 6 iterations need not converge
        d = load(name)
    assert d.inputs.shape == (80, 3, 6, 6) and (d.inputs.sum(axis=1) == 1).all()
    assert len(d.attrs["shell_couplings"]) == 5 and d.attrs["string_length"] == 1.0
    # the recorded statistics are those of the stored snapshots
    from physxai.physics import snapshots

    for label, key in ((0, "shell_correlators_pi_flux"), (1, "shell_correlators_strings")):
        x = d.inputs[np.asarray(d.targets) == label]
        np.testing.assert_allclose(
            d.attrs[key], snapshots.shell_correlators(x, 5).mean(axis=0), rtol=1e-12
        )
    np.testing.assert_allclose(d.attrs["shell_target"], d.attrs["shell_correlators_pi_flux"])
    # fixed couplings with the nn-correlator match instead
    fixed = _tiny_card(
        env,
        "fixed",
        "snapshots",
        {**base, "parent": '"shell_ising"', "shell_couplings": "[0.4, 0.1]", "match": '"none"'},
    )
    assert load(fixed).attrs["shell_couplings"] == [0.4, 0.1]
    for extra, match in (
        ({"parent": '"shell_ising"', "match": '"string_length"'}, "needs shell_couplings"),
        ({"parent": '"pi_flux"', "match": '"two_point"'}, "tunes the couplings of shell_ising"),
        ({"parent": '"shell_ising"', "shell_couplings": '["a"]'}, "list of finite numbers"),
        ({"n_shells": 0}, "n_shells must be an int >= 1"),
    ):
        bad = _tiny_card(env, "bad_shells", "snapshots", {**base, **extra})
        with pytest.raises(ValueError, match=match):
            load(bad)


def test_the_cache_file_has_the_schema_and_provenance(env):
    path = build("tiny")
    with h5py.File(path, "r") as f:
        assert set(f) == {"inputs", "targets", "params", "observables"}
        for key in (
            "name",
            "generator",
            "generator_version",
            "physxai_version",
            "seed",
            "parameters",
            "created",
            "complete",
        ):
            assert key in f.attrs


def test_a_file_system_without_locks_still_builds(env, monkeypatch):
    import fcntl

    def refuse(fh, op):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    path = build("tiny")
    assert path.is_file() and len(Fake.calls) == 4
    assert [p.name for p in path.parent.iterdir()] == [path.name]
