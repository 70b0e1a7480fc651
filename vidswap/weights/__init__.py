"""Weights: the manifest of known files, the cache, checked downloads, imports and converters.

Submodules are imported where they are used (``vidswap.weights.cache``, ``.download``, ...),
so importing this package costs nothing.
"""
