"""Pieces shared by CNSight's self-contained HTML reports (cnsight-eval, cnsight-study): one
style sheet, matplotlib figures embedded as base64 PNG (the file can be mailed or archived
alone), and number formatting."""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure

STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}.ruo{background:#fff3cd;border:1px solid #e0c060;padding:.6em;font-weight:bold}
img{max-width:100%}.figs{display:flex;flex-wrap:wrap;gap:1em}"""


def png_tag(fig: Figure) -> str:
    """An <img> holding the figure as an embedded PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def fmt(v, digits: int = 3) -> str:
    """A number to ``digits`` decimals, ``-`` for None, anything else escaped."""
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else html.escape(str(v))
