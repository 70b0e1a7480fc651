"""Writers of a VFX turnover's hand-over files: the Nuke scripts and the manifest
(:mod:`vidswap.pipeline.turnover` renders the layers and calls them)."""
