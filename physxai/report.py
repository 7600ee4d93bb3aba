"""One static HTML page with every experiment run under a results directory.

:func:`run_experiment <physxai.harness.run_experiment>` leaves each run in its own directory,
``results/<name>/<preset>-<YYYYmmdd-HHMMSS>/``, with ``config.json``, ``env.json``,
``metrics.json``, ``claims.json``, ``arrays.h5`` and ``fig_*.png``/``.pdf``. :func:`find_runs`
collects those directories (at any depth) and :func:`build_report` writes one page that needs no
server and nothing from the network::

    physxai report results -o report.html

The page opens with an index (experiment, preset, timestamp, claims passed out of total, each
linked to its section), then one section per run: the paper-versus-ours table with a pass or miss
mark in words *and* colour, the metrics that no claim checks, the figures with their file names as
captions, the other files of the run, and the config and environment in collapsible blocks.

Figures are embedded as base64 ``data:`` URIs by default, so the page is one file that can be
moved, mailed or archived on its own (about 4/3 of the PNGs' size). With ``embed_figures=False``
(``--link-figures``) the images are relative links from the page to the run directories instead:
a small page, valid only while it stays where it was written relative to the results.

A run that crashed or is still running lacks ``metrics.json``/``claims.json``; a file that does not
parse, or holds the wrong kind of JSON, is corrupt. Neither stops the report: such a run is listed
with ``incomplete: missing metrics.json`` or ``corrupt claims.json: ...`` and shows what it has.
All text from the results is HTML-escaped. A few lines of inline JavaScript mark each image
``data-loaded="1"`` once it has decoded (the browser test reads that back); the page reads the same
without it.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .harness import _atomic_write, _fmt

__all__ = ["Run", "add_report_arguments", "build_report", "cmd_report", "find_runs"]

#: the files every finished run of the harness has, in the order the harness writes them
RUN_FILES = ("config.json", "env.json", "metrics.json", "claims.json")
#: figure suffixes a browser shows inline -> MIME type of the data URI
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
#: leading bytes of the raster formats, to flag a truncated or mislabelled figure
_MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff",
    ".jpeg": b"\xff\xd8\xff",
    ".gif": b"GIF8",
}
# the harness's default run directory name: <preset>-<YYYYmmdd>-<HHMMSS>[-k]
_RUN_DIR = re.compile(r"^(?P<preset>.+)-(?P<date>\d{8})-(?P<time>\d{6})(?:-\d+)?$")


# ----------------------------------------------------------------------------------------------
# finding and reading runs


@dataclass(frozen=True)
class Run:
    """One run directory as read from disk.

    Attributes
    ----------
    path : Path
        The run directory.
    experiment, preset : str
        From ``config.json``; else from the directory names ``<name>/<preset>-<timestamp>``;
        ``"?"`` when neither says.
    timestamp : str
        ``"2024-05-01 12:00:03"`` from the directory name, else ``env.json``'s ``started``, else
        ``""``.
    config, env, metrics : dict or None
        The parsed JSON files; None when missing or corrupt.
    claims : list of dict or None
        ``claims.json``: one record per claim (``claim``, ``paper``, ``ours``, ``criterion``,
        ``ok``, ``status``, ``source``, ``kind``); None when missing or corrupt.
    figures : tuple of Path
        The ``fig_*`` images a browser can show (``.png``, ``.jpg``, ``.svg``, ...), sorted.
    other_files : tuple of Path
        Every other visible file of the directory (``arrays.h5``, ``fig_*.pdf``), sorted.
    problems : tuple of str
        ``"missing metrics.json"``, ``"corrupt claims.json: ..."``, ...; empty for a complete run.
    """

    path: Path
    experiment: str
    preset: str
    timestamp: str
    config: dict[str, Any] | None
    env: dict[str, Any] | None
    metrics: dict[str, Any] | None
    claims: list[dict[str, Any]] | None
    figures: tuple[Path, ...] = ()
    other_files: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when all of ``config.json``, ``env.json``, ``metrics.json`` and ``claims.json``
        are present and readable (and every figure looks like its format)."""
        return not self.problems

    @property
    def n_claims(self) -> int:
        """How many claims ``claims.json`` records (0 without one)."""
        return len(self.claims or ())

    @property
    def n_passed(self) -> int:
        """How many of them pass."""
        return sum(_claim_ok(c) for c in self.claims or ())


def find_runs(results_dir: str | Path) -> list[Run]:
    """Every run directory under ``results_dir`` (itself included), read and sorted.

    A directory is a run when it holds any of ``config.json``, ``env.json``, ``metrics.json`` or
    ``claims.json``; one that lacks some of them, or whose files do not parse, is returned with
    its :attr:`Run.problems` filled in rather than raising. Hidden directories (``.git``,
    ``.ipynb_checkpoints``) are skipped; symbolic links to directories are not followed.

    Parameters
    ----------
    results_dir : str or Path
        A results tree such as ``results/``, one experiment's ``results/<name>/``, or a single
        run directory.

    Returns
    -------
    list of Run
        Sorted by experiment, then newest first, then path; empty when there is no run.

    Raises
    ------
    FileNotFoundError
        If ``results_dir`` does not exist.
    NotADirectoryError
        If it is not a directory.

    Examples
    --------
    >>> import tempfile
    >>> find_runs(tempfile.mkdtemp())
    []
    """
    root = Path(results_dir)
    if not root.exists():
        raise FileNotFoundError(f"find_runs: results_dir {str(root)!r} does not exist.")
    if not root.is_dir():
        raise NotADirectoryError(f"find_runs: results_dir {str(root)!r} is not a directory.")
    runs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(name in filenames for name in RUN_FILES):
            runs.append(_read_run(Path(dirpath), set(filenames)))
    # newest first within an experiment: sort ascending on the rest, then stably on the time
    runs.sort(key=lambda r: str(r.path))
    runs.sort(key=lambda r: r.timestamp, reverse=True)
    runs.sort(key=lambda r: (r.experiment, r.preset))
    return runs


def _read_json(path: Path, kind: type, problems: list[str]) -> Any:
    """The parsed file if it holds a JSON ``kind``; else None, with the reason in ``problems``."""
    if not path.is_file():
        problems.append(f"missing {path.name}")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        problems.append(f"corrupt {path.name}: {type(err).__name__}: {err}")
        return None
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else "a list"
        problems.append(f"corrupt {path.name}: expected {expected}; got {type(value).__name__}")
        return None
    return value


def _read_run(path: Path, filenames: set[str]) -> Run:
    problems: list[str] = []
    config = _read_json(path / "config.json", dict, problems)
    env = _read_json(path / "env.json", dict, problems)
    metrics = _read_json(path / "metrics.json", dict, problems)
    claims = _read_json(path / "claims.json", list, problems)
    if claims is not None:
        bad = [i for i, c in enumerate(claims) if not (isinstance(c, dict) and "claim" in c)]
        if bad:
            problems.append(
                f"corrupt claims.json: records {', '.join(map(str, bad))} are not claim records "
                "(objects with a 'claim' key)"
            )
            claims = [c for c in claims if isinstance(c, dict) and "claim" in c]

    figures, others = [], []
    for name in sorted(filenames):
        if name.startswith(".") or name in RUN_FILES:
            continue  # hidden files include the harness's half-written .NAME.tmp-PID
        file = path / name
        suffix = file.suffix.lower()
        if name.startswith("fig_") and suffix in IMAGE_TYPES:
            magic = _MAGIC.get(suffix)
            if magic is not None:
                try:
                    with open(file, "rb") as fh:
                        head = fh.read(len(magic))
                except OSError as err:
                    problems.append(f"unreadable {name}: {err.strerror or err}")
                    continue
                if head != magic:
                    problems.append(f"corrupt {name}: not a {suffix[1:].upper()} file")
                    continue
            figures.append(file)
        else:
            others.append(file)

    match = _RUN_DIR.match(path.name)
    experiment = config.get("experiment") if config else None
    if not isinstance(experiment, str) or not experiment:
        experiment = path.parent.name if match else path.name
    preset = config.get("preset") if config else None
    if not isinstance(preset, str) or not preset:
        preset = match["preset"] if match else "?"
    if match:
        d, t = match["date"], match["time"]
        timestamp = f"{d[:4]}-{d[4:6]}-{d[6:]} {t[:2]}:{t[2:4]}:{t[4:]}"
    else:
        started = env.get("started") if env else None
        timestamp = started if isinstance(started, str) else ""
    return Run(
        path=path,
        experiment=experiment,
        preset=preset,
        timestamp=timestamp,
        config=config,
        env=env,
        metrics=metrics,
        claims=claims,
        figures=tuple(figures),
        other_files=tuple(others),
        problems=tuple(problems),
    )


def _claim_ok(record: Mapping[str, Any]) -> bool:
    return record.get("ok") is True


def _claim_status(record: Mapping[str, Any]) -> str:
    status = record.get("status")
    if status in ("pass", "fail", "missing"):
        return str(status)
    return "pass" if _claim_ok(record) else "fail"


# ----------------------------------------------------------------------------------------------
# formatting


def _number(x: Any) -> str:
    """A number as the harness prints it (``_fmt``); anything else as compact JSON."""
    if x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)):
        return _fmt(x)
    return _short_json(x)


def _short_json(x: Any, limit: int = 160) -> str:
    text = json.dumps(x, separators=(", ", ": "), default=str)
    if len(text) <= limit:
        return text
    size = f" ({len(x)} items)" if isinstance(x, (list, dict)) else ""
    return text[: limit - 1] + "…" + size


def _claim_cells(record: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """(claim, paper, ours, criterion, source) as the harness's table prints them.

    The same rules as :func:`physxai.harness.format_claims`, which takes ``ClaimResult`` objects
    rather than the ``claims.json`` records read here: paper ``-`` when the paper gives no number,
    ours ``missing`` when the experiment returned no number of that name.
    """
    status = _claim_status(record)
    return (
        str(record.get("claim", "")),
        _number(record.get("paper")),
        "missing" if status == "missing" else _number(record.get("ours")),
        str(record.get("criterion", "")),
        str(record.get("source", "") or ""),
    )


def _mark(status: str) -> str:
    """The ok cell: a symbol and a word (never colour alone) in a coloured span."""
    if status == "pass":
        return '<span class="mark pass">✓ pass</span>'
    word = "missing" if status == "missing" else "miss"
    return f'<span class="mark miss">✗ {word}</span>'


def _summary(run: Run) -> tuple[str, str]:
    """(css class, text) of a run's claims: ``3/4 pass``, ``no claims``, ``claims.json missing``."""
    if run.claims is None:
        corrupt = any(p.startswith("corrupt claims.json") for p in run.problems)
        return "miss", "claims.json corrupt" if corrupt else "claims.json missing"
    if not run.claims:
        return "none", "no claims"
    cls = "pass" if run.n_passed == run.n_claims else "miss"
    return cls, f"{run.n_passed}/{run.n_claims} pass"


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _anchors(runs: Sequence[Run], root: Path) -> list[str]:
    """One unique ``id`` per run, from its path below the results directory."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        rel = run.path.relative_to(root).as_posix() if run.path != root else run.path.name
        base = "run-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", rel).strip("-") or "root")
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.append(base if k == 0 else f"{base}-{k + 1}")
    return out


_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 70em;
       padding: 0 1em; color: #1b1b1b; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; margin-top: 0; }
h2 { border-top: 1px solid #ccc; padding-top: 0.8em; margin-top: 2em; }
h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mark { font-weight: 600; white-space: nowrap; }
.pass { color: #11661f; } .miss { color: #b00020; } .none { color: #555; }
tr.claim-pass td.ok { background: #e6f4e8; } tr.claim-miss td.ok { background: #fbe5e8; }
.problem { color: #8a4b00; background: #fff4e0; padding: 0.2em 0.5em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-family: monospace; color: #444; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
code, .path { font-family: monospace; }
a.top { font-size: 85%; }
"""

# after load, mark each image with whether it decoded (read back by the browser test)
_JS = """
window.addEventListener("load", function () {
  document.querySelectorAll("img").forEach(function (img) {
    img.setAttribute("data-loaded", img.complete && img.naturalWidth > 0 ? "1" : "0");
  });
  document.body.setAttribute("data-ready", "1");
});
"""


def _figure_src(file: Path, output: Path, embed: bool) -> str:
    if embed:
        mime = IMAGE_TYPES[file.suffix.lower()]
        data = base64.b64encode(file.read_bytes()).decode("ascii")
        return f"data:{mime};base64,{data}"
    rel = os.path.relpath(file.resolve(), output.resolve().parent)
    return urllib.parse.quote(Path(rel).as_posix())


def _render_run(run: Run, anchor: str, root: Path, output: Path, embed: bool) -> list[str]:
    rel = run.path.relative_to(root).as_posix() if run.path != root else "."
    title = f"{run.experiment} · {run.preset}" + (f" · {run.timestamp}" if run.timestamp else "")
    cls, text = _summary(run)
    out = [
        f'<section id="{_e(anchor)}" class="run">',
        f"<h2>{_e(title)}</h2>",
        (
            f'<p><span class="path">{_e(rel)}</span> · <span class="{cls}">{_e(text)}</span> · '
            '<a class="top" href="#index">back to the index</a></p>'
        ),
    ]
    if run.problems:
        out.append(f'<p class="problem">incomplete: {_e("; ".join(run.problems))}</p>')

    claimed: set[str] = set()
    if run.claims:
        out += [
            "<h3>Paper versus ours</h3>",
            '<table class="claims">',
            (
                "<thead><tr><th>claim</th><th>paper</th><th>ours</th><th>criterion</th>"
                "<th>source</th><th>ok</th></tr></thead><tbody>"
            ),
        ]
        for record in run.claims:
            status = _claim_status(record)
            name, paper, ours, criterion, source = _claim_cells(record)
            claimed.add(name)
            row_cls = "claim-pass" if status == "pass" else "claim-miss"
            out.append(
                f'<tr class="{row_cls}"><td>{_e(name)}</td><td class="num">{_e(paper)}</td>'
                f'<td class="num">{_e(ours)}</td><td>{_e(criterion)}</td><td>{_e(source)}</td>'
                f'<td class="ok">{_mark(status)}</td></tr>'
            )
        out.append("</tbody></table>")
    elif run.claims is not None:
        out.append("<p>No claims for this preset.</p>")

    extra = {k: v for k, v in (run.metrics or {}).items() if k not in claimed}
    if extra:
        out += [
            "<h3>Other metrics</h3>",
            '<table class="metrics"><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>',
        ]
        for key, value in extra.items():
            exact = json.dumps(value, default=str)
            numeric = value is None or isinstance(value, (int, float))
            out.append(
                f'<tr><td>{_e(key)}</td><td class="{"num" if numeric else "json"}" '
                f'title="{_e(exact[:2000])}">{_e(_number(value))}</td></tr>'
            )
        out.append("</tbody></table>")

    if run.figures:
        out.append("<h3>Figures</h3>")
        for fig in run.figures:
            try:
                src = _figure_src(fig, output, embed)
            except OSError as err:
                out.append(f'<p class="problem">unreadable {_e(fig.name)}: {_e(err)}</p>')
                continue
            out.append(
                f'<figure><img src="{_e(src)}" alt="{_e(fig.name)}" loading="eager">'
                f"<figcaption>{_e(fig.name)}</figcaption></figure>"
            )

    if run.other_files:
        items = []
        for file in run.other_files:
            if file.resolve() == output.resolve():
                continue
            try:
                size = f" ({_size(file.stat().st_size)})"
            except OSError:
                size = ""
            name = _e(file.name)
            if not embed:
                href = urllib.parse.quote(
                    Path(os.path.relpath(file.resolve(), output.resolve().parent)).as_posix()
                )
                name = f'<a href="{_e(href)}">{name}</a>'
            items.append(f"<li><code>{name}</code>{_e(size)}</li>")
        if items:
            out += ["<h3>Other files</h3>", "<ul>", *items, "</ul>"]

    for label, data in (("config.json", run.config), ("env.json", run.env)):
        if data is not None:
            text = json.dumps(data, indent=2, default=str, allow_nan=True)
            out.append(f"<details><summary>{_e(label)}</summary><pre>{_e(text)}</pre></details>")
    out.append("</section>")
    return out


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def _render_html(
    runs: Sequence[Run], results_dir: Path, output: Path, *, embed_figures: bool = True
) -> str:
    """The page for ``runs`` (from :func:`find_runs`) as a string; see :func:`build_report`."""
    anchors = _anchors(runs, results_dir)
    n_incomplete = sum(not r.complete for r in runs)
    n_all_pass = sum(r.complete and r.n_claims > 0 and r.n_passed == r.n_claims for r in runs)
    n_missed = sum(r.n_passed < r.n_claims for r in runs)
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>physxai report: {_e(results_dir.name or str(results_dir))}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        "<h1>physxai report</h1>",
        (
            f'<p class="meta">{len(runs)} runs in <span class="path">{_e(results_dir)}</span> · '
            f"{n_all_pass} with every claim passing, {n_missed} with a missed claim, "
            f"{n_incomplete} incomplete · generated {_e(generated)} by physxai {_e(__version__)}</p>"
        ),
        '<h2 id="index">Index</h2>',
        (
            '<table class="index"><thead><tr><th>experiment</th><th>preset</th><th>timestamp</th>'
            "<th>claims</th><th>status</th></tr></thead><tbody>"
        ),
    ]
    for run, anchor in zip(runs, anchors):
        cls, text = _summary(run)
        status = (
            '<span class="mark pass">complete</span>'
            if run.complete
            else f'<span class="problem">incomplete: {_e("; ".join(run.problems))}</span>'
        )
        head.append(
            f'<tr><td><a href="#{_e(anchor)}">{_e(run.experiment)}</a></td>'
            f"<td>{_e(run.preset)}</td><td>{_e(run.timestamp or '-')}</td>"
            f'<td class="{cls}">{_e(text)}</td><td>{status}</td></tr>'
        )
    head.append("</tbody></table>")
    body: list[str] = []
    for run, anchor in zip(runs, anchors):
        body += _render_run(run, anchor, results_dir, output, embed_figures)
    tail = [f"<script>{_JS}</script>", "</body></html>", ""]
    return "\n".join(head + body + tail)


# ----------------------------------------------------------------------------------------------
# the public entry points


def build_report(
    results_dir: str | Path, output: str | Path, *, embed_figures: bool = True
) -> Path:
    """Write one static HTML page with every run under ``results_dir``.

    Parameters
    ----------
    results_dir : str or Path
        A results tree (``results/``), one experiment's results, or a single run directory.
    output : str or Path
        The HTML file to write, atomically (a temporary file, then ``os.replace``); its
        directory is created if needed.
    embed_figures : bool, default True
        Embed every figure as a base64 ``data:`` URI, so the page stands alone and can be moved.
        False links them relatively instead (small page; move it together with the results).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    FileNotFoundError
        If ``results_dir`` does not exist.
    NotADirectoryError
        If ``results_dir`` is not a directory.
    ValueError
        If it holds no run, or ``output`` is an existing directory.
    """
    return _build_report(results_dir, output, embed_figures)[0]


def _build_report(
    results_dir: str | Path, output: str | Path, embed_figures: bool
) -> tuple[Path, list[Run]]:
    caller = "build_report"
    root = Path(results_dir)
    out = Path(output)
    if out.is_dir():
        raise ValueError(f"{caller}: output must be a file path; got the directory {str(out)!r}.")
    runs = find_runs(root)
    if not runs:
        raise ValueError(
            f"{caller}: no experiment runs found under {str(root)!r} (a run is a directory with "
            f"{', '.join(RUN_FILES)}, as `physxai run NAME` writes them)."
        )
    page = _render_html(runs, root, out, embed_figures=embed_figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return out, runs


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``physxai report``: ``RESULTS_DIR``, ``-o/--output``,
    ``--link-figures``."""
    parser.add_argument(
        "results_dir",
        metavar="RESULTS_DIR",
        help="a results tree (results/), one experiment's results, or one run directory",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="report.html",
        help="the HTML file to write (default: report.html)",
    )
    parser.add_argument(
        "--link-figures",
        action="store_true",
        help="link the figures relatively instead of embedding them (a small page that only "
        "works next to the results)",
    )


def cmd_report(args: argparse.Namespace) -> int:
    """``physxai report RESULTS_DIR [-o report.html] [--link-figures]``.

    Returns
    -------
    int
        0 when the page was written; 2 when ``RESULTS_DIR`` does not exist, is not a directory
        or holds no run, or the output is a directory (the message goes to stderr). Missed
        claims do not change the status: the report shows them.
    """
    try:
        path, runs = _build_report(args.results_dir, args.output, not args.link_figures)
    except (FileNotFoundError, NotADirectoryError, ValueError) as err:
        message = str(err).removeprefix("build_report: ").removeprefix("find_runs: ")
        print(f"physxai report: error: {message}", file=sys.stderr)
        return 2
    n_incomplete = sum(not r.complete for r in runs)
    extra = f" ({n_incomplete} incomplete)" if n_incomplete else ""
    print(f"physxai report: {len(runs)} runs{extra} -> {path}")
    return 0
