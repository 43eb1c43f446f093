"""The app's PACS part (docs/pacs.md): node settings, the study browser, "Send results to
PACS". Every network call is ``core.pacs`` run off the GUI thread (``desktop.background``);
these modules only lay out widgets and show what the calls answer."""
