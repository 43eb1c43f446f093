"""View-models: plain QObjects holding the app's state and rules (no widgets)."""
