"""Where the model may run: the device names the app and the command lines offer.

Defined once, torch-free, so the app's settings and menus and ``cnsight-predict`` agree;
``core.model.pick_device`` turns a name into a torch device (and refuses an absent one).
"""

from __future__ import annotations

#: ``auto``: CUDA when present, then Apple MPS, then CPU. The command lines also accept
#: ``cuda:N`` (a given GPU); the app offers these three.
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_DEVICE = "auto"
