"""Shared pieces of the request and response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base of every request body: an unknown field is an error (422), not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    """Base of responses."""

    model_config = ConfigDict(extra="forbid")


class Message(Out):
    detail: str
