"""Synthetic scenarios: realistic, reproducible conflict-event data for demos, tests and training.

``tocsin scenario generate`` writes a UCDP-GED-like CSV drawn from a self-exciting (Hawkes)
space-time process calibrated to real data (``calibration.py``); ``tocsin scenario calibrate``
re-derives the calibration from a GED file. See docs/scenario.md.
"""

GENERATOR_VERSION = "1.0"
