"""Helpers shared by the test suite: a throwaway PostgreSQL + PostGIS cluster, shared data."""
