"""Persistent settings (QSettings): opacity, recent studies, device, inference backend, last
model, geometry.

Tests point QSettings at a temporary folder (tests/desktop/conftest.py), so nothing here
reads or writes a real user's settings during a test run.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from core.devices import DEFAULT_DEVICE, DEVICES
from core.heatmap_overlay import DEFAULT_OPACITY
from core.inference.names import BACKENDS, DEFAULT_BACKEND

ORGANISATION = "CNSight"
APPLICATION = "CNSight"
MAX_RECENT = 8


class AppSettings:
    def __init__(self, settings: QSettings | None = None):
        self._s = settings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
        )

    @property
    def file_name(self) -> str:
        return self._s.fileName()

    def sync(self) -> None:
        self._s.sync()

    # ----- values ------------------------------------------------------------------------------
    @property
    def opacity(self) -> float:
        try:
            value = float(self._s.value("viewer/opacity", DEFAULT_OPACITY))
        except (TypeError, ValueError):
            return DEFAULT_OPACITY
        return min(1.0, max(0.0, value))

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._s.setValue("viewer/opacity", float(value))

    def _one_of(self, key: str, default: str, allowed) -> str:
        """A saved name, or ``default`` when it is not (or no longer) one of ``allowed``."""
        value = str(self._s.value(key, default))
        return value if value in allowed else default

    @property
    def device(self) -> str:
        return self._one_of("model/device", DEFAULT_DEVICE, DEVICES)

    @device.setter
    def device(self, value: str) -> None:
        self._s.setValue("model/device", value)

    @property
    def backend(self) -> str:
        """What runs the network (``core.inference``); an unknown saved name is the default."""
        return self._one_of("model/backend", DEFAULT_BACKEND, BACKENDS)

    @backend.setter
    def backend(self, value: str) -> None:
        self._s.setValue("model/backend", value)

    @property
    def last_model(self) -> Path | None:
        value = self._s.value("model/last_bundle", "")
        return Path(value) if value else None

    @last_model.setter
    def last_model(self, path: Path | None) -> None:
        self._s.setValue("model/last_bundle", str(path) if path else "")

    @property
    def deidentified(self) -> bool:
        return str(self._s.value("viewer/deidentified", "false")).lower() == "true"

    @deidentified.setter
    def deidentified(self, on: bool) -> None:
        self._s.setValue("viewer/deidentified", "true" if on else "false")

    @property
    def reader_name(self) -> str:
        """The name last signed on a report (offered again next time)."""
        return str(self._s.value("report/reader_name", "") or "")

    @reader_name.setter
    def reader_name(self, name: str) -> None:
        self._s.setValue("report/reader_name", name)

    # ----- recent studies ------------------------------------------------------------------------
    @property
    def recent_studies(self) -> list[str]:
        value = self._s.value("studies/recent", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent_study(self, path: str) -> list[str]:
        recent = [path] + [p for p in self.recent_studies if p != path]
        self._s.setValue("studies/recent", recent[:MAX_RECENT])
        return recent[:MAX_RECENT]

    def clear_recent_studies(self) -> None:
        self._s.setValue("studies/recent", [])

    # ----- window ----------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self._s.value("window/geometry"), self._s.value("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)
