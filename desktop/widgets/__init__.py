"""Thin widgets: they read view-models and forward user actions to them."""
