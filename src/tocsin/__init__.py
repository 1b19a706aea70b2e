"""Tocsin: early warning and incident management for the protection of civilians."""

__version__ = "0.1.0"
