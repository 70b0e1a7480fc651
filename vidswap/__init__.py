"""vidswap: FaceShifter face swapping for video, built for post-production.

Importing the package is cheap: torch, av and onnxruntime are imported by the modules that
need them, so ``vidswap --help`` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
