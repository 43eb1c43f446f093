"""Converters from public datasets to CNSight manifests."""
