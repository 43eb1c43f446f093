"""Reader-study reading mode: ``cnsight --study STUDY --reader R1``.

One case at a time, in the reader's plan order, from ``core.readerstudy``'s session (which owns
all state: what comes next, washout, durable decisions). This package only shows the case, gates
the AI by treatment (blinding) and hands the decision back to the core session.

- ``cases``: plain helpers, no Qt - open a reader's session, map a case to its images.
- ``controller``: the case flow (core session + the desktop pipeline), no widgets.
- ``window``: the reading window; ``screenshot``: ``--screenshot`` in reading mode.
"""
