"""Helpers shared by the tests (builders of files, bundles, datasets). Not tests themselves."""
