"""Trigger definitions (``config``) and their evaluators, pure functions over plain inputs."""
