"""Verification: corroboration and duplicate suggestions, merges, and the verification workflow.

Everything here is pure (no I/O, no database): the store and the API call these functions and
persist what they return.
"""
