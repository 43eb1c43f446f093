"""The app's identity (issue 12): icon on the window and the application, version in the
title bar and About."""

from __future__ import annotations

import core
from desktop.identity import app_icon, app_title, icon_files


def test_the_icon_is_found_and_has_every_size(qtbot):
    files = icon_files()
    assert any(p.suffix == ".svg" for p in files) and any(p.suffix == ".png" for p in files)
    icon = app_icon()
    assert not icon.isNull()
    assert icon.pixmap(16, 16).width() == 16 and icon.pixmap(256, 256).width() == 256


def test_title_and_about_carry_the_version(qtbot):
    from desktop.app import _build
    from desktop.settings import AppSettings

    _session, win = _build(AppSettings())
    qtbot.addWidget(win)
    assert win.windowTitle() == f"CNSight {core.__version__}" == app_title()
    assert not win.windowIcon().isNull()
    win.vm.set_deidentified(True)
    assert win.windowTitle() == f"CNSight {core.__version__} — de-identified"
    about = win.show_about()
    assert core.__version__ in about.windowTitle()
    assert f"CNSight {core.__version__}" in about.browser.toPlainText()
    assert not about.windowIcon().isNull()
    about.close()
    win.close()


def test_the_application_gets_the_icon_and_version(qtbot):
    from desktop.app import _application

    app = _application()
    assert app.applicationVersion() == core.__version__ and not app.windowIcon().isNull()
