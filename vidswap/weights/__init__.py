"""Weights: the manifest of known files, the cache, downloads and checkpoint converters."""
