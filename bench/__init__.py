"""Benchmarks (docs/performance.md). ``python -m bench`` runs the issue-10 suite; the other
modules here are scripts run by path (each says how)."""
