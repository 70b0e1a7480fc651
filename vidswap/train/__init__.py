"""Training: datasets, losses, the AEI-Net and HEAR-Net loops."""
