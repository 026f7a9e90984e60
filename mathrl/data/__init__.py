"""Data: the source registry (data/sources/) and loading any source's problems into the rows every layer reads.

In the bottom layer with config: config names the registered sources, and each source reads its DataConfig.
"""
