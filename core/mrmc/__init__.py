"""Multi-reader multi-case (MRMC) analysis of reader-study reads.

The standard analyses that the trusted tools (OR-DBM MRMC, RJafroc, MRMCaov, iMRMC) run, written
here because no maintained Python library does them, and tested against those tools' published
Van Dyke results (../shared/data/mrmc/EXPECTED.md):

- figures of merit per reader and treatment: empirical (trapezoidal/Wilcoxon) ROC AUC with ties
  counted 1/2, and binary sensitivity/specificity at a rating threshold (``fom.py``);
- their covariance over cases: jackknife or DeLong (``covariance.py``);
- Obuchowski-Rockette analysis with Hillis' denominator degrees of freedom for random readers and
  random cases (RRRC), fixed readers (FRRC) and fixed cases (RRFC) (``obuchowski_rockette.py``);
- Dorfman-Berbaum-Metz analysis of jackknife pseudovalues (``dbm.py``).

``analyze(reads)`` runs them all and returns an ``MrmcAnalysis`` (frozen dataclasses, read by
attribute; ``to_json()`` gives ``analysis.json``); ``cnsight-study analyze`` writes it as JSON +
HTML.
"""

from core.mrmc.analysis import MrmcAnalysis, analyze
from core.mrmc.reads import Reads, load_reads, reads_from_rows

__all__ = ["MrmcAnalysis", "Reads", "analyze", "load_reads", "reads_from_rows"]
