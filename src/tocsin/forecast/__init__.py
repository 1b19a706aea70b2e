"""Forecasting: panels, VIEWS baselines, the Tocsin model, evaluation, explanations, stored runs."""

import os

# LightGBM's OpenMP threads spin while waiting by default; on a shared or busy machine that makes
# two threads several times slower than one. Passive waiting must be chosen before the OpenMP
# runtime starts, hence here, before anything imports lightgbm. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
