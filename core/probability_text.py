"""How a model's probability is written for people: a percentage that is never "100 %" or
"0 %" (the figures are estimates, and a calibrated 0.9996 is not certainty). One definition
for the app, its PDF report and the CLI's overlay images."""

from __future__ import annotations


def percent(p: float, digits: int = 1) -> str:
    """A probability as a percentage; the extremes read "> 99.9%" and "< 0.1%"."""
    top, bottom = 1 - 10 ** -(digits + 2), 10 ** -(digits + 2)
    if p >= top:
        return f"> {100 * top:.{digits}f}%"
    if p <= bottom:
        return f"< {100 * bottom:.{digits}f}%"
    return f"{100 * p:.{digits}f}%"
