"""``physxai report``: finding runs, the static page, its errors, and the page in a real browser.

The results tree is built the way the harness writes it (``check_claims(...).as_dict()`` records,
``save_figure`` PNGs), with two experiments, a failing and a missing claim, text that needs
escaping, and a corrupt run. The page is parsed with ``html.parser``; the browser test renders it
in headless Chromium and reads back which images decoded.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from physxai import harness, report
from physxai.harness import Reference

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>&"


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _write_run(run_dir: Path, name, preset, metrics, claims, figures=()) -> Path:
    run_dir.mkdir(parents=True)
    _write_json(
        run_dir / "config.json",
        {"experiment": name, "preset": preset, "overrides": [], "config": {"seed": 0}},
    )
    _write_json(run_dir / "env.json", {"physxai": "0.1.0", "python": "3.11", "seed": 0})
    _write_json(run_dir / "metrics.json", metrics)
    results = harness.check_claims(claims, metrics)
    _write_json(run_dir / "claims.json", [r.as_dict() for r in results])
    for fig_name, slope in figures:
        fig = Figure(figsize=(1.0, 0.8))
        fig.add_subplot().plot([0, 1], [0, slope])
        harness.save_figure(fig, run_dir, fig_name, formats=("png",), dpi=30)
    return run_dir


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    # built once (matplotlib figures take a few tenths of a second); tests only read it
    root = tmp_path_factory.mktemp("report") / "results"
    _write_run(
        root / "alpha2020_ising" / "quick-20240102-030405",
        "alpha2020_ising",
        "quick",
        {"T_c": 2.281, "accuracy": 0.9123456, "curve": list(range(50)), "note": "a < b"},
        {"T_c": Reference(2.269, low=2.10, high=2.45, source="Fig. 3")},
        figures=[("curve", 1.0), ("heatmap", -1.0)],
    )
    (root / "alpha2020_ising" / "quick-20240102-030405" / "arrays.h5").write_bytes(b"\0" * 10)
    # a half-written file of the harness (hidden): never shown
    (root / "alpha2020_ising" / "quick-20240102-030405" / ".fig_x.png.tmp-12").write_bytes(b"")
    _write_run(
        root / "beta2021_orbits" / "full-20240103-000000",
        "beta2021_orbits",
        "full",
        {"energy": 0.5, "r2": 0.75, EVIL: 1.0},
        {
            "energy": Reference(0.5, tol=0.01, source="Tab. 1"),
            "r2": Reference(None, low=0.9),
            "absent": Reference(1.0, tol=0.1),
            EVIL: Reference(1.0, tol=0.5, source=EVIL),
        },
        figures=[("orbit", 2.0)],
    )
    corrupt = root / "beta2021_orbits" / "quick-20240104-000000"
    corrupt.mkdir()
    _write_json(corrupt / "config.json", {"experiment": "beta2021_orbits", "preset": "quick"})
    (corrupt / "claims.json").write_text('[{"claim": "energy", ', encoding="utf-8")
    (corrupt / "fig_bad.png").write_bytes(b"not a png")
    # a directory without run files is not a run
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("hello")
    return root


class _Page(HTMLParser):
    """Tables (class, rows of cell texts), images, ids, links and summaries of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.images: list[dict[str, str]] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.summaries: list[str] = []
        self.scripts: list[str] = []
        self.body_attrs: dict[str, str] = {}
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._summary: list[str] | None = None
        self._script = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "body":
            self.body_attrs = a
        elif tag == "table":
            self.tables.append({"class": a.get("class", ""), "rows": []})
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a)
        elif tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        elif tag == "summary":
            self._summary = []
        elif tag == "script":
            self._script = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None
        elif tag == "summary" and self._summary is not None:
            self.summaries.append("".join(self._summary))
            self._summary = None
        elif tag == "script":
            self._script = False

    def handle_data(self, data):
        if self._script:
            self.scripts.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._summary is not None:
            self._summary.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _rows(table: dict) -> list[dict[str, str]]:
    header, *rows = table["rows"]
    return [dict(zip(header, row)) for row in rows]


# ----------------------------------------------------------------------------------------------
# finding runs


def test_find_runs_reads_every_run_and_marks_the_corrupt_one(results):
    runs = report.find_runs(results)
    assert [(r.experiment, r.preset, r.timestamp) for r in runs] == [
        ("alpha2020_ising", "quick", "2024-01-02 03:04:05"),
        ("beta2021_orbits", "full", "2024-01-03 00:00:00"),
        ("beta2021_orbits", "quick", "2024-01-04 00:00:00"),
    ]
    alpha, beta, corrupt = runs
    assert alpha.complete and alpha.problems == ()
    assert (alpha.n_passed, alpha.n_claims) == (1, 1)
    assert [f.name for f in alpha.figures] == ["fig_curve.png", "fig_heatmap.png"]
    assert [f.name for f in alpha.other_files] == ["arrays.h5"]
    assert (beta.n_passed, beta.n_claims) == (2, 4)
    assert [c["status"] for c in beta.claims] == ["pass", "fail", "missing", "pass"]
    assert not corrupt.complete
    assert corrupt.config == {"experiment": "beta2021_orbits", "preset": "quick"}
    assert corrupt.claims is None and corrupt.metrics is None and corrupt.figures == ()
    problems = "; ".join(corrupt.problems)
    assert "missing env.json" in problems and "missing metrics.json" in problems
    assert "corrupt claims.json: JSONDecodeError" in problems
    assert "corrupt fig_bad.png: not a PNG file" in problems


def test_find_runs_on_one_run_directory_and_fallback_names(tmp_path):
    # a single run directory; no config.json: the names come from the path, then env.json
    run = tmp_path / "gamma2022_x" / "full-20240105-060708-2"
    run.mkdir(parents=True)
    _write_json(run / "metrics.json", {"a": 1.0})
    (found,) = report.find_runs(run)
    assert (found.experiment, found.preset, found.timestamp) == (
        "gamma2022_x",
        "full",
        "2024-01-05 06:07:08",
    )
    assert found.problems == ("missing config.json", "missing env.json", "missing claims.json")
    custom = tmp_path / "my_out"
    custom.mkdir()
    _write_json(custom / "env.json", {"started": "2024-02-03T04:05:06+0000"})
    _write_json(custom / "claims.json", {"not": "a list"})
    (found,) = report.find_runs(custom)
    assert (found.experiment, found.preset, found.timestamp) == (
        "my_out",
        "?",
        "2024-02-03T04:05:06+0000",
    )
    assert "corrupt claims.json: expected a list; got dict" in found.problems


def test_claim_records_without_a_name_are_flagged(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    _write_json(run / "claims.json", [{"claim": "a", "ok": True, "status": "pass"}, 3, {}])
    (found,) = report.find_runs(run)
    assert [c["claim"] for c in found.claims] == ["a"]
    assert any("records 1, 2 are not claim records" in p for p in found.problems)


# ----------------------------------------------------------------------------------------------
# the page


def test_report_tables_marks_and_anchors(results, tmp_path):
    out = report.build_report(results, tmp_path / "site" / "report.html")
    assert out == tmp_path / "site" / "report.html"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]  # no temp file left
    text = out.read_text(encoding="utf-8")
    page = _parse(text)

    index = next(t for t in page.tables if t["class"] == "index")
    rows = _rows(index)
    assert [(r["experiment"], r["preset"], r["claims"]) for r in rows] == [
        ("alpha2020_ising", "quick", "1/1 pass"),
        ("beta2021_orbits", "full", "2/4 pass"),
        ("beta2021_orbits", "quick", "claims.json corrupt"),
    ]
    assert [r["status"] for r in rows[:2]] == ["complete", "complete"]
    assert rows[2]["status"].startswith("incomplete: ")
    assert "missing metrics.json" in rows[2]["status"]
    # every index link resolves to a section of the page
    anchors = [h[1:] for h in page.hrefs if h.startswith("#") and h != "#index"]
    assert len(set(anchors)) == 3 and set(anchors) <= page.ids and "index" in page.ids

    claims = [_rows(t) for t in page.tables if t["class"] == "claims"]
    assert len(claims) == 2  # the corrupt run has no claims table
    assert claims[0] == [
        {
            "claim": "T_c",
            "paper": "2.269",
            "ours": "2.281",
            "criterion": "in [2.10, 2.45]",
            "source": "Fig. 3",
            "ok": "✓ pass",
        }
    ]
    beta = {r["claim"]: r for r in claims[1]}
    assert [r["ok"] for r in claims[1]] == ["✓ pass", "✗ miss", "✗ missing", "✓ pass"]
    assert beta["r2"]["paper"] == "-" and beta["r2"]["criterion"] == ">= 0.90"
    assert beta["absent"]["ours"] == "missing"
    assert beta["energy"]["criterion"] == "|d| <= 0.01"
    # the marks are words and colours: a pass and a miss class on the mark itself
    assert text.count('<span class="mark pass">✓ pass</span>') == 3
    assert text.count('<span class="mark miss">✗ miss</span>') == 1
    assert text.count('<span class="mark miss">✗ missing</span>') == 1

    # metrics that no claim checks, numbers as the harness prints them
    metrics = [_rows(t) for t in page.tables if t["class"] == "metrics"]
    values = {r["metric"]: r["value"] for r in metrics[0]}
    assert values.keys() == {"accuracy", "curve", "note"}  # T_c is in the claims table
    assert values["accuracy"] == "0.9123" and values["note"] == '"a < b"'
    # a long list is cut to 160 characters, its length said; the full JSON is in the title
    assert values["curve"].startswith("[0, 1, 2, 3") and values["curve"].endswith("… (50 items)")
    assert len(values["curve"]) < 180 and f'title="{json.dumps(list(range(50)))}"' in text
    assert len(metrics) == 1  # beta's metrics are all claimed

    assert page.summaries == ["config.json", "env.json"] * 2 + ["config.json"]
    assert "corrupt claims.json: JSONDecodeError" in "".join(page.text)
    assert "arrays.h5" in "".join(page.text) and ".fig_x.png.tmp" not in text
    assert "notes" not in anchors


def test_report_escapes_text_from_the_results(results, tmp_path):
    text = report.build_report(results, tmp_path / "r.html").read_text(encoding="utf-8")
    assert EVIL not in text
    assert html_escaped(EVIL) in text
    page = _parse(text)
    # the only script is the page's own
    assert len(page.scripts) == 1 and "naturalWidth" in page.scripts[0]
    claims = [_rows(t) for t in page.tables if t["class"] == "claims"][1]
    assert claims[-1]["claim"] == EVIL and claims[-1]["source"] == EVIL


def html_escaped(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_embedded_figures_decode_to_the_files(results, tmp_path):
    out = report.build_report(results, tmp_path / "r.html")
    page = _parse(out.read_text(encoding="utf-8"))
    names = [img["alt"] for img in page.images]
    assert names == ["fig_curve.png", "fig_heatmap.png", "fig_orbit.png"]
    runs = report.find_runs(results)
    files = [*runs[0].figures, *runs[1].figures]
    for img, file in zip(page.images, files):
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        data = base64.b64decode(img["src"][len(prefix) :], validate=True)
        assert data[:8] == PNG_MAGIC and data == file.read_bytes()
    # the page stands alone: moved elsewhere, nothing points back at the results
    assert not any(h for h in page.hrefs if not h.startswith("#"))


def test_linked_figures_are_relative_to_the_page(results, tmp_path):
    out = report.build_report(results, tmp_path / "site" / "r.html", embed_figures=False)
    page = _parse(out.read_text(encoding="utf-8"))
    srcs = [img["src"] for img in page.images]
    assert all(not s.startswith(("data:", "/")) for s in srcs)
    resolved = [(out.parent / s).resolve() for s in srcs]
    runs = report.find_runs(results)
    assert resolved == [f.resolve() for f in (*runs[0].figures, *runs[1].figures)]
    links = [h for h in page.hrefs if h.endswith("arrays.h5")]
    assert len(links) == 1 and (out.parent / links[0]).resolve().is_file()


def test_report_overwrites_and_skips_itself(results, tmp_path):
    # written inside the results tree, twice: the page is not listed as a file of a run
    results = Path(shutil.copytree(results, tmp_path / "copy"))
    out = results / "alpha2020_ising" / "quick-20240102-030405" / "report.html"
    report.build_report(results, out)
    before = out.stat().st_size
    report.build_report(results, out)
    assert abs(out.stat().st_size - before) < 100
    page = _parse(out.read_text(encoding="utf-8"))
    assert "report.html" not in "".join(page.text)


def test_nan_and_infinite_metrics(tmp_path):
    run = _write_run(
        tmp_path / "res" / "delta2023_x" / "quick-20240101-000000",
        "delta2023_x",
        "quick",
        {"a": float("nan"), "b": float("inf"), "c": 3},
        {"a": Reference(1.0, tol=0.1)},
    )
    assert run.is_dir()
    page = _parse(report.build_report(tmp_path / "res", tmp_path / "r.html").read_text())
    (claims,) = [_rows(t) for t in page.tables if t["class"] == "claims"]
    assert claims[0]["ours"] == "nan" and claims[0]["ok"] == "✗ miss"
    (metrics,) = [_rows(t) for t in page.tables if t["class"] == "metrics"]
    assert {r["metric"]: r["value"] for r in metrics} == {"b": "inf", "c": "3"}


# ----------------------------------------------------------------------------------------------
# errors and the command line


def test_build_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="results_dir '.*nowhere' does not exist"):
        report.build_report(tmp_path / "nowhere", tmp_path / "r.html")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="results_dir '.*file.txt' is not a directory"):
        report.build_report(tmp_path / "file.txt", tmp_path / "r.html")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="build_report: no experiment runs found under"):
        report.build_report(tmp_path / "empty", tmp_path / "r.html")
    with pytest.raises(ValueError, match="build_report: output must be a file path; got the dir"):
        report.build_report(tmp_path / "empty", tmp_path / "empty")
    assert not (tmp_path / "r.html").exists()


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="physxai report")
    report.add_report_arguments(parser)
    return report.cmd_report(parser.parse_args(argv))


def test_cmd_report(results, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert _cli([str(results), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"physxai report: 3 runs (1 incomplete) -> {out}"
    assert "data:image/png;base64," in out.read_text()
    assert _cli([str(results), "--output", str(out), "--link-figures"]) == 0
    assert "data:image/png" not in out.read_text()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "nowhere", r"physxai report: error: results_dir '.*nowhere' does not exist"),
        (lambda p: p, r"physxai report: error: no experiment runs found under"),
    ],
)
def test_cmd_report_usage_errors_exit_2(tmp_path, capsys, make, message):
    assert _cli([str(make(tmp_path)), "-o", str(tmp_path / "r.html")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.html").exists()


def test_the_report_verb_of_physxai(results, tmp_path, capsys):
    from physxai import cli

    if "report" not in cli.COMMANDS:
        pytest.skip("the report verb is not wired into physxai.cli yet")
    out = tmp_path / "r.html"
    assert cli.main(["report", str(results), "-o", str(out)]) == 0
    assert out.is_file()
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# a real browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.slow  # a browser start: about 2.3 s
def test_the_page_renders_in_headless_chromium(results, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium: install Debian's chromium package (.ci/run does)")
    out = report.build_report(results, tmp_path / "r.html")
    cmd = [
        browser,
        "--headless",
        # the sandbox needs user namespaces, which containers and root often lack; the page is
        # our own file, so running without it is safe here
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        out.resolve().as_uri(),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and done.stdout, (
        f"{browser} exited {done.returncode} in {elapsed:.1f} s: {done.stderr[-2000:]}"
    )
    dom = _parse(done.stdout)
    # the load handler ran, and every image decoded to a picture with a width
    assert dom.body_attrs.get("data-ready") == "1", "the page's load handler did not run"
    assert [img.get("alt") for img in dom.images] == [
        "fig_curve.png",
        "fig_heatmap.png",
        "fig_orbit.png",
    ]
    assert [img.get("data-loaded") for img in dom.images] == ["1", "1", "1"]
    assert [t["class"] for t in dom.tables] == ["index", "claims", "metrics", "claims"]
    assert [r["ok"] for r in _rows(dom.tables[3])] == ["✓ pass", "✗ miss", "✗ missing", "✓ pass"]
    assert {"index"} | {h[1:] for h in dom.hrefs if h.startswith("#")} <= dom.ids


@pytest.mark.slow  # a browser start: about 2.4 s
def test_a_broken_image_is_marked_by_the_browser(tmp_path):
    # the check above can fail: a figure that does not decode is marked data-loaded="0"
    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium: install Debian's chromium package (.ci/run does)")
    run = _write_run(
        tmp_path / "res" / "eps2024_x" / "quick-20240101-000000",
        "eps2024_x",
        "quick",
        {"a": 1.0},
        {"a": Reference(1.0, tol=0.1)},
    )
    # a PNG signature followed by garbage passes the report's check but does not decode
    (run / "fig_broken.png").write_bytes(PNG_MAGIC + b"garbage" * 10)
    out = report.build_report(tmp_path / "res", tmp_path / "r.html")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            out.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _parse(done.stdout)
    assert [img.get("data-loaded") for img in dom.images] == ["0"]
