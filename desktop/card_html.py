"""Model-card sections as compact HTML tables for the About dialog.

Known shapes get a table a reader can scan (training data: one row per split; validation
metrics: headline figures and a per-class table per level); anything else is shown as
flattened "a / b: value" rows, so no card field is ever hidden.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from core.taxonomy import display_name

from . import theme

_CELL = "padding:2px 12px 2px 0"
_PER_CLASS_METRICS = ("sensitivity", "specificity", "ppv", "npv", "auroc")


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if (
        isinstance(value, list | tuple)
        and all(isinstance(v, int | float) for v in value)
        and len(value) <= 8
    ):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return str(value)


def flat_rows(data: Mapping, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Flatten a nested dict into "a / b: value" rows (limited depth, long values cut)."""
    rows = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < 3:
            rows.extend(flat_rows(value, f"{name} / ", depth + 1))
        else:
            text = fmt(value)
            rows.append((name, text if len(text) <= 160 else text[:157] + "…"))
    return rows


def key_value_table(rows: Sequence[tuple[str, str]], empty: str = "") -> str:
    if not rows:
        return f"<p style='color:{theme.MUTED}'>{html.escape(empty)}</p>" if empty else ""
    body = "".join(
        f"<tr><td style='color:{theme.MUTED}; {_CELL}'>{html.escape(k)}</td>"
        f"<td style='{_CELL}'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table cellspacing='0'>{body}</table>"


def grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(
        f"<th align='left' style='color:{theme.MUTED}; {_CELL}'>{html.escape(h)}</th>"
        for h in header
    )
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table cellspacing='0'><tr>{head}</tr>{body}</table>"


def _pct(value) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def training_data_html(data: Mapping, class_names: Sequence[str]) -> str:
    """One row per split that reports images/patients; other fields as key-value rows."""
    splits = {k: v for k, v in data.items() if isinstance(v, Mapping) and "images" in v}
    others = {k: v for k, v in data.items() if k not in splits}
    if not splits:
        return key_value_table(flat_rows(data), "Not stated in the model card.")
    header = [
        "Split",
        "Patients",
        "Images",
        *(_short(c) for c in class_names),
        "Sites",
        "GA (weeks)",
    ]
    rows = []
    for name, split in splits.items():
        per_class = split.get("patients_per_class", {}) or {}
        rows.append([name.replace("_", " "), fmt(split.get("patients")), fmt(split.get("images")),
                     *(fmt(per_class.get(c, 0)) for c in class_names),
                     fmt(split.get("sites", "—")), fmt(split.get("ga_weeks_range", "—")).replace(", ", "–")])  # fmt: skip
    note = f"<p style='color:{theme.MUTED}'>Class columns count patients.</p>"
    return grid(header, rows) + note + key_value_table(flat_rows(others))


def _short(class_name: str) -> str:
    """A class name short enough for a column header ("Encephalocele", not "... / meningocele")."""
    return display_name(class_name).split(" (")[0].split(" /")[0]


def _auroc(value) -> str:
    return "—" if value is None else f"{float(value):.3f}"


def validation_html(metrics: Mapping, class_names: Sequence[str]) -> str:
    """Per level (image, patient): n, accuracy, macro AUROC, then a per-class table."""
    levels = {k: v for k, v in metrics.items() if isinstance(v, Mapping) and "per_class" in v}
    others = {k: v for k, v in metrics.items() if k not in levels}
    if not levels:
        return key_value_table(flat_rows(metrics), "Not stated in the model card.")
    parts = []
    for level, m in levels.items():
        head = (f"<p><b>{html.escape(level.capitalize())} level</b> (n = {fmt(m.get('n'))}): "
                f"accuracy {_pct(m.get('accuracy'))}, macro AUROC {_auroc(m.get('auroc_macro'))}"
                + (f", rule {html.escape(str(m['rule']))}" if m.get("rule") else "") + "</p>")  # fmt: skip
        per_class = m.get("per_class", {})
        rows = [[display_name(c), *(_pct(per_class.get(c, {}).get(k)) if k != "auroc"
                                    else _auroc(per_class.get(c, {}).get(k)) for k in _PER_CLASS_METRICS)]
                for c in class_names if c in per_class]  # fmt: skip
        parts.append(
            head + grid(["Class", "Sensitivity", "Specificity", "PPV", "NPV", "AUROC"], rows)
        )
    return "".join(parts) + "<br>" + key_value_table(flat_rows(others))
