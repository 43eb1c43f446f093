"""``report.html`` of a whole reader study: the warnings first (when the design is too small
for a result to mean much), then the rating (ROC) analysis, the class call, reading time, the
AI alone against the readers, automation bias and (sequential design) the second read. Each
section names its method; plots are embedded PNGs (core.html_report)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from core.html_report import fmt, png_tag
from core.mrmc.report import _ci, _p, page, rating_sections
from core.mrmc.study_analysis import StudyAnalysis

SEQUENTIAL_LABELS = {"unaided": "the first (unaided) read", "aided": "the final (aided) read"}


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _interval(ci) -> str:
    return "-" if ci is None else f"[{fmt(float(ci[0]), 3)}, {fmt(float(ci[1]), 3)}]"


def _paired_plot(values: dict[str, dict[str, float]], ylabel: str, title: str) -> Figure:
    treatments = list(values)
    readers = list(values[treatments[0]])
    fig = Figure(figsize=(4.5, 3.4))
    ax = fig.add_subplot()
    x = np.arange(len(treatments))
    for r in readers:
        ax.plot(x, [values[t][r] for t in treatments], marker="o", alpha=0.6, label=f"reader {r}")
    ax.plot(x, [np.mean(list(values[t].values())) for t in treatments], color="black", lw=3, marker="s", label="mean")  # fmt: skip
    ax.set_xticks(x, treatments)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(readers) <= 12:
        ax.legend(fontsize=7)
    return fig


def _class_section(s: StudyAnalysis) -> list[str]:
    cc = s.class_call
    if cc is None:
        return []
    or_ = cc.accuracy_or
    treatments = list(cc.accuracy)
    rows = [[html.escape(r)] + [fmt(cc.accuracy[t][r], 3) for t in treatments] for r in cc.accuracy[treatments[0]]]  # fmt: skip
    rows.append(["<b>mean [RRRC CI]</b>"] + [_ci(or_.rrrc.treatments[t].test) for t in treatments])
    rows.append(["Cohen's kappa (mean)"] + [fmt(cc.mean_kappa(t), 3) for t in treatments])
    diffs = "<br>".join(
        f"accuracy {html.escape(d.treatments[0])} - {html.escape(d.treatments[1])}: "
        f"<b>{_ci(d.test)}</b>, p = {_p(d.test.p)}"
        for d in or_.rrrc.differences
    )
    per_class = []
    for c in cc.classes:
        cells = [html.escape(c)]
        for t in treatments:
            rate = cc.per_class[t].get(c)
            cells += (
                ["-", "-"]
                if rate is None
                else [
                    f"{_pct(rate.sensitivity)} {_interval(rate.sensitivity_ci)}",
                    f"{_pct(rate.specificity)} {_interval(rate.specificity_ci)}",
                ]
            )
        per_class.append(cells)
    confusion = []
    for t in treatments:
        counts = cc.confusion[t]
        confusion.append(
            f"<p><b>{html.escape(t)}</b> (rows: truth, columns: call, all readers)</p>"
            + _table(
                ["truth \\ call", *cc.classes],
                [
                    [html.escape(c)] + [str(n) for n in row]
                    for c, row in zip(cc.classes, counts, strict=True)
                ],
            )  # fmt: skip
        )
    return [
        "<h2>Class call (5-class diagnosis)</h2>",
        f"<p>{diffs} (Obuchowski-Rockette with accuracy as the figure of merit: jackknife over "
        "cases, Hillis df, random readers and cases).</p>",
        _table(["reader", *treatments], rows),
        "<div class='figs'>"
        + png_tag(_paired_plot(cc.accuracy, "accuracy", "Class accuracy per reader"))
        + "</div>",  # fmt: skip
        "<p>Per class, one vs the rest: sensitivity and specificity, mean over readers [RRRC "
        "CI].</p>",
        _table(
            ["class"] + [f"{t}: {w}" for t in treatments for w in ("sensitivity", "specificity")],
            per_class,
        ),  # fmt: skip
        *confusion,
    ]


def _time_plot(s: StudyAnalysis) -> Figure:
    rt = s.reading_time
    fig = Figure(figsize=(4.5, 3.4))
    ax = fig.add_subplot()
    treatments = list(rt.median_by_reader)
    for r in rt.median_by_reader[treatments[0]]:
        ax.plot(treatments, [rt.median_by_reader[t][r] for t in treatments], marker="o", alpha=0.6)
    ax.plot(treatments, [rt.median[t] for t in treatments], color="black", lw=3, marker="s")
    ax.set_yscale("log")
    ax.set_ylabel("median seconds per read (log scale)")
    ax.set_title("Reading time per reader (black: all reads)")
    return fig


def _time_section(s: StudyAnalysis) -> list[str]:
    rt = s.reading_time
    if rt is None:
        return []
    rows = [[html.escape(t), fmt(v, 1)] for t, v in rt.median.items()]
    ratios = "<br>".join(
        f"geometric-mean time {html.escape(a)} / {html.escape(b)}: <b>{r:.3f} "
        f"[{ci[0]:.3f}, {ci[1]:.3f}]</b>, p = {_p(p)}"
        for (a, b), (r, ci, p) in rt.ratios.items()
    )
    note = (
        " In the sequential design the aided time is the first plus the final read."
        if rt.sequential_total
        else ""
    )
    return [
        "<h2>Reading time</h2>",
        _table(["treatment", "median seconds per read"], rows),
        f"<p>{ratios} (Obuchowski-Rockette on the mean log time: readers and cases random; the "
        f"log because times are skewed and change by a factor).{note}</p>",
        "<div class='figs'>" + png_tag(_time_plot(s)) + "</div>",
    ]


def _standalone_plot(s: StudyAnalysis) -> Figure:
    fig = Figure(figsize=(4.5, 3.4))
    ax = fig.add_subplot()
    for i, c in enumerate(s.standalone):
        ax.scatter([i] * len(c.readers), list(c.readers.values()), color="tab:blue", alpha=0.7, label="unaided readers" if i == 0 else None)  # fmt: skip
        ax.scatter([i], [c.ai], marker="*", s=200, color="tab:red", label="AI alone" if i == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(s.standalone)), [c.figure_of_merit for c in s.standalone])
    ax.set_ylim(0, 1.05)
    ax.set_title("AI alone vs unaided readers")
    ax.legend(fontsize=7)
    return fig


def _standalone_section(s: StudyAnalysis) -> list[str]:
    if not s.standalone:
        return []
    rows = [
        [html.escape(c.figure_of_merit), fmt(c.ai, 3), fmt(c.mean_readers, 3),
         f"<b>{fmt(c.difference, 3)} {_interval(c.ci)}</b>", fmt(c.df, 2), _p(c.p)]
        for c in s.standalone
    ]  # fmt: skip
    return [
        "<h2>AI alone vs the unaided readers</h2>",
        _table(["figure of merit", "AI", "readers (mean)", "readers - AI [CI]", "df", "p"], rows),
        "<p>Single-treatment Obuchowski-Rockette with the AI as a fixed reader (Hillis 2007, "
        "section 5.3; the method of RJafroc's StSignificanceTestingCadVsRadiologists, "
        '"1T-RRRC"): random readers and cases. The AI\'s rating is its confidence that the case '
        "is abnormal, as the aided reads showed it.</p>",
        "<div class='figs'>" + png_tag(_standalone_plot(s)) + "</div>",
    ]


def _bias_section(s: StudyAnalysis) -> list[str]:
    if not s.automation_bias:
        return []
    rows = [
        [html.escape(b.kind), f"{b.ai_wrong_cases} of {b.cases}", _pct(b.accuracy_unaided),
         _pct(b.accuracy_aided), _interval(b.difference_ci), _pct(b.agreed_unaided),
         _pct(b.followed_aided), _pct(b.switched)]
        for b in s.automation_bias
    ]  # fmt: skip
    return [
        "<h2>Automation bias: when the AI was wrong</h2>",
        _table(
            [
                "AI call",
                "AI wrong on",
                "reader accuracy unaided",
                "aided",
                "aided - unaided [RRRC CI]",
                "made the AI's wrong call unaided",
                "aided (followed)",
                "switched to it (sequential)",
            ],
            rows,
        ),  # fmt: skip
        '<p>On the cases where the AI\'s call was wrong. "Followed": aided reads that made '
        "exactly the AI's wrong call; compare with the same call unaided (readers who would "
        "have erred that way anyway).</p>",
    ]


def _second_read_section(s: StudyAnalysis) -> list[str]:
    sr = s.second_read
    if sr is None:
        return []
    return [
        "<h2>Second read: what the AI changed</h2>",
        f"<p>The final read differed from the first in {_pct(sr.changed)} of the reads "
        f"(class changed in {_pct(sr.class_changed)}): {sr.corrected} wrong first calls were "
        f"corrected and {sr.spoiled} right first calls were changed to a wrong class.</p>",
        _table(
            ["reader", "final read changed"],
            [[html.escape(r), _pct(v)] for r, v in sr.by_reader.items()],
        ),  # fmt: skip
    ]


def _bullets(title: str, items: list[str]) -> list[str]:
    """A titled list of sentences (no section at all when there are none)."""
    if not items:
        return []
    return [
        f"<h2>{title}</h2><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    ]


def write_study_report(path: Path, study: StudyAnalysis, source: str = "") -> None:
    labels = SEQUENTIAL_LABELS if study.design == "sequential" else None
    warnings = _bullets("Warnings", study.warnings)
    skipped = _bullets("Not analysed", study.skipped)
    design = f" ({html.escape(study.design)} design)" if study.design else ""
    sections = [
        f"<h1>Reader study: analysis{design}</h1>",
        *warnings,
        "<h2>Rating: confidence that the case is abnormal (ROC)</h2>",
        *rating_sections(study.rating, source, labels),
        *_class_section(study),
        *_time_section(study),
        *_standalone_section(study),
        *_bias_section(study),
        *_second_read_section(study),
        *skipped,
    ]
    path.write_text(page("CNSight reader study analysis", sections), encoding="utf-8")
