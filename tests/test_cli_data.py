"""``physxai data list | build | info`` through ``physxai.cli.main``."""

from __future__ import annotations

import pytest

from physxai import cli
from physxai.data import cache_path, is_cached

CARD = """\
name = "{name}"
description = "tiny Hubbard chain for the CLI test"
generator = "hubbard"
seed = 0

[parameters]
n_sites = 4
n_particles = 2
v1 = [0.5, 2.0, 3.0]
values_per_chunk = 2
"""


@pytest.fixture
def cards(tmp_path, monkeypatch):
    d = tmp_path / "cards"
    d.mkdir()
    (d / "cli_tiny.toml").write_text(CARD.format(name="cli_tiny"))
    monkeypatch.setenv("PHYSXAI_CARDS", str(d))
    monkeypatch.setenv("PHYSXAI_DATA", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return d


def _line(out, name):
    return next(line for line in out.splitlines() if line.startswith(name + " "))


def test_list_shows_cards_descriptions_and_cache_state(cards, capsys):
    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny Hubbard chain for the CLI test" in _line(out, "cli_tiny")
    assert _line(out, "cli_tiny").split()[1] == "-"
    assert "scikit-learn's handwritten digits" in _line(out, "digits")  # the shipped cards
    assert "wetzel2017_quick" in out and "dawid2020_train" in out
    assert cli.main(["data", "build", "cli_tiny"]) == 0
    capsys.readouterr()
    assert cli.main(["data", "list"]) == 0
    assert _line(capsys.readouterr().out, "cli_tiny").split()[1] == "cached"


def test_list_reports_a_broken_card_without_failing(cards, capsys):
    (cards / "broken.toml").write_text('name = "broken"\n')
    assert cli.main(["data", "list"]) == 0
    assert "field 'description' is missing" in _line(capsys.readouterr().out, "broken")


def test_build_then_again_then_force(cards, capsys):
    assert cli.main(["data", "build", "cli_tiny"]) == 0
    out = capsys.readouterr().out
    path = cache_path("cli_tiny")
    assert "generator hubbard, 2 chunk(s)" in out and "built 3 samples" in out
    assert str(path) in out and is_cached("cli_tiny")
    mtime = path.stat().st_mtime_ns
    assert cli.main(["data", "build", "cli_tiny"]) == 0
    assert "already built" in capsys.readouterr().out and path.stat().st_mtime_ns == mtime
    assert cli.main(["data", "build", "cli_tiny", "--force"]) == 0
    assert "built 3 samples" in capsys.readouterr().out


def test_info_prints_schema_and_provenance(cards, capsys):
    assert cli.main(["data", "build", "cli_tiny"]) == 0
    path = cache_path("cli_tiny")
    capsys.readouterr()
    for arg in (str(path), "cli_tiny"):  # a file, or a card's cached file
        assert cli.main(["data", "info", arg]) == 0
        out = capsys.readouterr().out
        assert "/inputs" in out and "(3, 6)" in out and "float32" in out
        assert "/params/v1" in out and "/observables/cdw_order_parameter" in out
        assert "generator          hubbard" in out and "seed" in out
        assert "check: ok (3 samples)" in out


def test_info_on_a_truncated_file_fails_naming_it(cards, capsys):
    assert cli.main(["data", "build", "cli_tiny"]) == 0
    path = cache_path("cli_tiny")
    path.write_bytes(path.read_bytes()[:300])
    capsys.readouterr()
    assert cli.main(["data", "info", str(path)]) == 1
    err = capsys.readouterr().err
    assert path.name in err and "corrupt" in err


def test_info_on_an_unbuilt_card_or_a_missing_file(cards, capsys):
    assert cli.main(["data", "info", "cli_tiny"]) == 1
    assert "not built yet" in capsys.readouterr().err
    assert cli.main(["data", "info", "nowhere.h5"]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["data"], 2, "an action is required (list, build, info)"),
        (["data", "build", "nosuch"], 2, "no dataset card named 'nosuch'"),
        (["data", "build", "bad"], 2, "bad.toml: field 'generator' names an unknown generator"),
    ],
)
def test_usage_errors_exit_2_with_a_message(cards, capsys, argv, code, message):
    (cards / "bad.toml").write_text(
        'name = "bad"\ndescription = "x"\ngenerator = "nope"\nseed = 0\n[parameters]\n'
    )
    assert cli.main(argv) == code
    assert message in capsys.readouterr().err
