"""The package's one progress-bar policy (physxai._validation.progress_bar): a bar on a terminal,
quiet in pipes and under CI, and forced on or off by the caller."""

from __future__ import annotations

import io
import sys

import pytest

from physxai._validation import progress_bar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_forced_on_gives_a_bar_with_the_settings(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    bar = progress_bar(10, enabled=True, desc="fit", unit="epoch", initial=3)
    try:
        assert bar is not None and bar.total == 10 and bar.n == 3 and bar.desc == "fit"
        assert bar.unit == "epoch"
    finally:
        bar.close()


def test_forced_off_gives_none(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert progress_bar(10, enabled=False, desc="x") is None


@pytest.mark.parametrize(
    ("tty", "ci", "shown"), [(True, None, True), (True, "1", False), (False, None, False)]
)
def test_automatic_shows_only_on_a_terminal_outside_ci(monkeypatch, tty, ci, shown):
    monkeypatch.setattr(sys, "stderr", _Tty() if tty else io.StringIO())
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    bar = progress_bar(5, enabled=None, desc="build")
    assert (bar is not None) == shown
    if bar is not None:
        bar.close()
