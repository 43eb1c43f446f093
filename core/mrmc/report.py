"""``report.html`` of an MRMC analysis: the answer first (does the second treatment change
reader performance?), then per-reader figures of merit, every test, and the variance components."""

from __future__ import annotations

import html
from dataclasses import fields
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from core import RESEARCH_USE_ONLY
from core.html_report import STYLE, fmt, png_tag
from core.mrmc.analysis import MrmcAnalysis
from core.mrmc.results import Difference, TTest


def _ci(test: TTest) -> str:
    low, high = test.ci
    return f"{fmt(test.estimate, 4)} [{fmt(low, 4)}, {fmt(high, 4)}]"


def _p(value: float | None) -> str:
    return "-" if value is None else ("&lt;0.0001" if value < 1e-4 else f"{value:.4f}")


def _df(value: float | None) -> str:
    # None is how a t test records infinite df; an F test's ddf arrives as the float itself.
    return "&infin;" if value is None else fmt(float(value), 2)


def headline(analysis: MrmcAnalysis, labels: dict | None = None) -> str:
    """One sentence per treatment pair from OR RRRC (the generalisation to new readers and cases)."""
    rrrc = analysis.obuchowski_rockette.rrrc
    level = round(100 * (1 - analysis.alpha))
    labels = labels or {}
    parts = []
    for d in rrrc.differences:
        a, b = (labels.get(t, f"treatment {t}") for t in d.treatments)
        parts.append(
            f"{analysis.figure_of_merit.name} of {html.escape(a)} minus "
            f"{html.escape(b)}: <b>{_ci(d.test)}</b> ({level}% CI), p = {_p(d.test.p)} "
            f"(Obuchowski-Rockette, random readers and cases, Hillis df {_df(d.test.df)})."
        )
    return "<p>" + "<br>".join(parts) + "</p>"


def fom_table(analysis: MrmcAnalysis) -> str:
    treatments = list(analysis.fom)
    readers = list(analysis.fom[treatments[0]].by_reader)
    rows = [
        "<tr><th>reader</th>" + "".join(f"<th>{html.escape(t)}</th>" for t in treatments) + "</tr>"
    ]
    for r in readers:
        rows.append(
            f"<tr><td>{html.escape(r)}</td>"
            + "".join(f"<td>{fmt(analysis.fom[t].by_reader[r], 4)}</td>" for t in treatments)
            + "</tr>"
        )
    single = analysis.obuchowski_rockette.rrrc.treatments
    rows.append(
        "<tr><th>mean [CI, RRRC]</th>"
        + "".join(f"<th>{_ci(single[t].test)}</th>" for t in treatments)
        + "</tr>"
    )
    return "<table>" + "".join(rows) + "</table>"


def tests_table(analysis: MrmcAnalysis) -> str:
    or_, dbm = analysis.obuchowski_rockette, analysis.dbm
    rows = [
        "<tr><th>method</th><th>readers / cases</th><th>statistic</th><th>df</th><th>p</th>"
        "<th>difference [CI]</th></tr>"
    ]

    def row(
        method: str,
        generalises: str,
        stat: str,
        df: str,
        p: float | None,
        diffs: tuple[Difference, ...],
    ) -> None:
        diff_text = "<br>".join(f"{'-'.join(d.treatments)}: {_ci(d.test)}" for d in diffs)
        rows.append(
            f"<tr><td>{method}</td><td>{generalises}</td><td>{stat}</td><td>{df}</td>"
            f"<td>{_p(p)}</td><td>{diff_text}</td></tr>"
        )

    r = or_.rrrc
    row("OR", "random / random", f"F = {fmt(r.f, 4)}", f"{r.df1}, {_df(r.ddf)}", r.p, r.differences)
    f = or_.frrc
    row("OR", "fixed / random", f"&chi;&sup2; = {fmt(f.chi2, 4)}", str(f.df), f.p, f.differences)
    r = or_.rrfc
    row("OR", "random / fixed", f"F = {fmt(r.f, 4)}", f"{r.df1}, {_df(r.ddf)}", r.p, r.differences)
    for test, label in (
        (dbm.rrrc, "random / random"),
        (dbm.frrc, "fixed / random"),
        (dbm.rrfc, "random / fixed"),
    ):
        row(
            "DBM",
            label,
            f"F = {fmt(test.f, 4)}",
            f"{test.df1}, {_df(test.ddf)}",
            test.p,
            test.differences,
        )
    return "<table>" + "".join(rows) + "</table>"


def components_table(analysis: MrmcAnalysis) -> str:
    comps = analysis.obuchowski_rockette.variance_components
    ms = analysis.obuchowski_rockette.mean_squares
    cells = [("MS(T)", ms.ms_t), ("MS(R)", ms.ms_r), ("MS(T*R)", ms.ms_tr)]
    cells += [(f.name, getattr(comps, f.name)) for f in fields(comps)]  # labelled by field name
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{fmt(v, 8) if isinstance(v, float) else fmt(v)}</td></tr>"
        for k, v in cells
    )
    return f"<table>{rows}</table>"


def reader_plot(analysis: MrmcAnalysis) -> Figure:
    """Each reader's figure of merit in every treatment, joined by a line (paired design)."""
    treatments = list(analysis.fom)
    readers = list(analysis.fom[treatments[0]].by_reader)
    fig = Figure(figsize=(4.5, 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(treatments))
    for r in readers:
        ax.plot(
            x,
            [analysis.fom[t].by_reader[r] for t in treatments],
            marker="o",
            alpha=0.6,
            label=f"reader {r}",
        )
    means = [analysis.fom[t].mean for t in treatments]
    ax.plot(x, means, color="black", linewidth=3, marker="s", label="mean")
    ax.set_xticks(x, [f"treatment {t}" for t in treatments])
    ax.set_ylabel(analysis.figure_of_merit.name)
    ax.set_title("Figure of merit per reader")
    if len(readers) <= 12:
        ax.legend(fontsize=7, loc="best")
    return fig


def rating_sections(
    analysis: MrmcAnalysis, source: str = "", labels: dict | None = None
) -> list[str]:
    """The report's sections on the rating (ROC) analysis. ``labels``: what to call a
    treatment in the text (e.g. "first (unaided) read")."""
    design, fom = analysis.design, analysis.figure_of_merit
    return [
        f"<p>Reads {html.escape(source)}: {len(design.treatments)} treatments x "
        f"{len(design.readers)} readers x {design.cases} cases ({design.positive_cases} abnormal, "
        f"{design.negative_cases} normal). Figure of merit: {html.escape(fom.description)}. "
        f"Covariance: {html.escape(analysis.obuchowski_rockette.covariance_method)}.</p>",
        "<h2>Answer</h2>",
        headline(analysis, labels),
        "<h2>Figure of merit per reader and treatment</h2>",
        fom_table(analysis),
        "<div class='figs'>" + png_tag(reader_plot(analysis)) + "</div>",
        "<h2>Tests</h2>",
        tests_table(analysis),
        "<p>OR = Obuchowski-Rockette with Hillis denominator df; DBM = Dorfman-Berbaum-Metz on "
        "jackknife pseudovalues. Random readers and cases: the result applies to other readers and "
        "cases like these (the usual claim); fixed readers: to these readers only; fixed cases: to "
        "these cases only.</p>",
        "<h2>Variance components (OR)</h2>",
        components_table(analysis),
    ]


def page(title: str, sections: list[str]) -> str:
    return "\n".join(
        [
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
            f"<p class='ruo'>{html.escape(RESEARCH_USE_ONLY)}</p>",
            *sections,
            "</body></html>",
        ]
    )


def write_report(path: Path, analysis: MrmcAnalysis, source: str = "") -> None:
    """``source``: where the reads came from (named in the report's first line)."""
    sections = ["<h1>Reader study: MRMC analysis</h1>", *rating_sections(analysis, source)]
    path.write_text(page("CNSight reader study analysis", sections), encoding="utf-8")
