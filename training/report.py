"""Self-contained ``report.html``: summary with 95 % CIs, ROC curves, confusion matrices,
reliability diagram and the subgroup tables. Plots are matplotlib PNGs embedded as base64, so
the file can be mailed or archived alone. Uses ``matplotlib.figure.Figure`` (no pyplot state).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import auc, roc_curve

from core.html_report import STYLE, fmt, png_tag
from core.records import ImageRef
from training.scoring import image_truth, patient_table


def _with_ci(value, ci: dict | None) -> str:
    if value is None:
        return "-"
    if not ci or ci.get("low") is None:
        return fmt(value)
    return f"{value:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"


def roc_figure(
    truth: np.ndarray, probs: np.ndarray, class_names: Sequence[str], title: str
) -> Figure:
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.add_subplot()
    for k, name in enumerate(class_names):
        positives = truth == k
        if positives.any() and not positives.all():
            fpr, tpr, _ = roc_curve(positives, probs[:, k])
            ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="lower right")
    return fig


def confusion_figure(confusion: list[list[int]], class_names: Sequence[str], title: str) -> Figure:
    cm = np.asarray(confusion)
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            color="white" if v > cm.max() / 2 else "black",
            fontsize=8,
        )
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(ticks, class_names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="truth", title=title)
    return fig


def reliability_figure(calibration: dict, title: str) -> Figure:
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.add_subplot()
    bins = [b for b in calibration["bins"] if b["count"]]
    width = 1.0 / max(1, calibration["n_bins"])
    ax.bar(
        [b["lower"] for b in bins],
        [b["accuracy"] for b in bins],
        width=width,
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="perfect calibration")
    ax.set(
        xlabel="confidence (top-class probability)",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"{title} (ECE {fmt(calibration['ece'])})",
    )
    ax.legend(fontsize=7, loc="upper left")
    return fig


def summary_table(metrics: dict) -> str:
    rows = [
        "<tr><th>level</th><th>n</th><th>accuracy [95% CI]</th><th>macro AUROC [95% CI]</th></tr>"
    ]
    for level in ("image", "patient"):
        m = metrics[level]
        ci = m.get("ci95") or {}
        rows.append(
            f"<tr><td>{level}</td><td>{m['n']}</td><td>{_with_ci(m['accuracy'], ci.get('accuracy'))}</td>"
            f"<td>{_with_ci(m['auroc_macro'], ci.get('auroc_macro'))}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _exact_note(patient: dict) -> str:
    exact = patient.get("accuracy_exact_ci95")
    if not exact:
        return ""
    right = round(patient["accuracy"] * patient["n"])
    return (
        f" Patient accuracy {right}/{patient['n']}, exact 95% CI (Clopper-Pearson) "
        f"{fmt(exact['low'])}-{fmt(exact['high'])} (unlike the bootstrap, it does not "
        "collapse to a point when every patient is right)."
    )


def per_class_table(m: dict) -> str:
    stats = ("sensitivity", "specificity", "ppv", "npv", "auroc")
    head = "<tr><th>class</th><th>support</th>" + "".join(f"<th>{s}</th>" for s in stats) + "</tr>"
    ci = (m.get("ci95") or {}).get("per_class", {})
    rows = [
        f"<tr><td>{html.escape(c)}</td><td>{s['support']}</td>"
        + "".join(f"<td>{_with_ci(s[k], ci.get(c, {}).get(k))}</td>" for k in stats)
        + "</tr>"
        for c, s in m["per_class"].items()
    ]
    return "<table>" + head + "".join(rows) + "</table>"


def subgroup_table(groups: dict, class_names: Sequence[str]) -> str:
    head = (
        "<tr><th>group</th><th>n</th><th>accuracy</th><th>macro AUROC</th>"
        + "".join(f"<th>sens. {html.escape(c)}</th>" for c in class_names)
        + "</tr>"
    )
    rows = [
        f"<tr><td>{html.escape(g)}</td><td>{m['n']}</td><td>{fmt(m['accuracy'])}</td><td>{fmt(m['auroc_macro'])}</td>"
        + "".join(f"<td>{fmt(m['sensitivity'].get(c))}</td>" for c in class_names)
        + "</tr>"
        for g, m in groups.items()
    ]
    return "<table>" + head + "".join(rows) + "</table>"


def unreadable_section(metrics: dict) -> str:
    errors = metrics.get("errors") or []
    if not errors:
        return "<p>Every image could be read.</p>"
    none = ", ".join(metrics.get("patients_without_readable_images") or []) or "none"
    some = ", ".join(metrics.get("patients_with_unreadable_images") or []) or "none"
    items = "".join(
        f"<li>{html.escape(e['path'])} ({html.escape(e.get('stage', ''))}): "
        f"{html.escape(e['message'])}</li>"
        for e in errors[:200]
    )
    return (
        f"<h2>Unreadable files ({len(errors)})</h2><p>Patients left out (no readable image): "
        f"{html.escape(none)}. Patients scored on their readable images only: {html.escape(some)}.</p>"
        f"<ul>{items}</ul>"
    )


def _share(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def domain_section(metrics: dict) -> str:
    """What the bundle refused and why; the out-of-distribution detector's ROC."""
    domain = metrics.get("domain")
    if not domain:
        return ""
    rows = [("in domain (this data)", domain["in_domain"])]
    rows += list((domain.get("out_of_domain") or {}).items())
    body = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['images']}</td><td>{_share(s['assessable'])}</td>"
        f"<td>{html.escape(', '.join(f'{k} {v}' for k, v in s['by_reason'].items()) or '-')}</td>"
        f"<td>{fmt((s.get('detector') or {}).get('auroc_mahalanobis'))}</td>"
        f"<td>{fmt((s.get('detector') or {}).get('auroc_max_softmax'))}</td></tr>"
        for name, s in rows
    )
    parts = [
        "<h2>What the model can assess</h2>",
        "<p>An image is assessable when it passes the model-free checks (ultrasound, B-mode, not "
        "blank, large enough) and its out-of-distribution score is within the bundle's threshold "
        "(set on validation images). Patient verdicts use assessable views only.</p>",
        "<table><tr><th>set</th><th>images</th><th>assessable</th><th>not assessable, by reason"
        "</th><th>detector AUROC (Mahalanobis)</th><th>AUROC (max softmax)</th></tr>"
        + body + "</table>",
    ]  # fmt: skip
    roc = (domain.get("detector_all_out_of_domain") or {}).get("roc_mahalanobis")
    if roc:
        fig = Figure(figsize=(4, 4))
        ax = fig.add_subplot()
        ax.plot(roc["fpr"], roc["tpr"])
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set(xlabel="in-domain images flagged", ylabel="out-of-domain images flagged",
               title="out-of-distribution score, ROC")  # fmt: skip
        parts.append(png_tag(fig))
    return "\n".join(parts)


def render_report(
    metrics: dict,
    refs: Sequence[ImageRef],
    probs: np.ndarray,
    class_names: Sequence[str],
    assessable: Sequence[bool] | None = None,
    temperature: float | None = None,
) -> str:
    """The report as one HTML string (patients aggregated as in ``metrics``)."""
    rule = metrics["patient"].get("rule", "mean_softmax")
    table = patient_table(refs, probs, class_names, rule, assessable, temperature)
    figs = [
        roc_figure(image_truth(refs, class_names), probs, class_names, "ROC, images (one-vs-rest)"),
        roc_figure(table.truth, table.probs, class_names, f"ROC, patients ({rule})")
        if len(table.truth)
        else None,
        confusion_figure(metrics["image"]["confusion"], class_names, "confusion, images"),
        confusion_figure(metrics["patient"]["confusion"], class_names, "confusion, patients"),
        reliability_figure(metrics["calibration"]["image"], "reliability, images"),
        reliability_figure(metrics["calibration"]["patient"], "reliability, patients"),
    ]
    model, data = metrics.get("model", {}), metrics.get("data", {})
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>CNSight evaluation</title><style>{STYLE}</style></head><body>",
        f"<p class='ruo'>{html.escape(metrics.get('research_use_only', 'Research use only - not for diagnosis.'))}</p>",
        "<h1>CNSight evaluation</h1>",
        f"<p>model <b>{html.escape(str(model.get('name', '')))}</b> ({html.escape(str(model.get('architecture', '')))}, "
        f"temperature {fmt(model.get('temperature'))}; backend {html.escape(str(model.get('backend', '-')))} on {html.escape(str(model.get('device', '-')))}); data {html.escape(str(data.get('source', '')))}: "
        f"{data.get('images', len(refs))} images, {data.get('patients', '')} patients; patient rule: {html.escape(rule)}.</p>",
        "<h2>Summary</h2>",
        summary_table(metrics),
        "<p>95% CIs: percentile bootstrap resampling patients "
        f"({(metrics['image'].get('ci95') or {}).get('n_boot', 0)} replicates)."
        f"{_exact_note(metrics['patient'])}</p>",
        "<h2>Per class, patients</h2>",
        per_class_table(metrics["patient"]),
        "<h2>Per class, images</h2>",
        per_class_table(metrics["image"]),
        "<h2>Plots</h2><div class='figs'>" + "".join(png_tag(f) for f in figs if f) + "</div>",
        "<h2>Subgroups (patients)</h2><h3>gestational age (weeks)</h3>",
        subgroup_table(metrics["subgroups"]["ga_bin"]["patient"], class_names),
        "<h3>site</h3>",
        subgroup_table(metrics["subgroups"]["site"]["patient"], class_names),
    ]
    parts.append(domain_section(metrics))
    parts.append(unreadable_section(metrics))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: Path,
    metrics: dict,
    refs: Sequence[ImageRef],
    probs: np.ndarray,
    class_names: Sequence[str],
    assessable: Sequence[bool] | None = None,
    temperature: float | None = None,
) -> None:
    html_text = render_report(metrics, refs, probs, class_names, assessable, temperature)
    Path(path).write_text(html_text, encoding="utf-8")
