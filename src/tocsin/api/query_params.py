"""Query-string models parsed in one pydantic call, for the hottest read routes.

FastAPI's own ``Annotated[Model, Query()]`` re-inspects every field's annotation on every
request; on ``GET /api/v1/events`` that was about a quarter of the server's CPU for a search
with no results (bench/api_load.py). ``QueryModel`` validates the query string with the model
itself: the same model, the same errors (422, ``loc`` starting with ``"query"``, unknown keys
refused by ``extra="forbid"``), and the same OpenAPI parameters (``parameters``), generated
from the model's JSON schema.
"""

from __future__ import annotations

import typing
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

MAX_QUERY_KEYS = 64
"""More distinct keys than any model has fields: refused before validation."""


class QueryModel(Generic[M]):
    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._lists = frozenset(
            (field.alias or name)
            for name, field in model.model_fields.items()
            if _is_list(field.annotation)
        )

    def parse(self, request: Request) -> M:
        """The request's query string as ``model``, or RequestValidationError (422).

        A repeated key is a list for list fields; for other fields the last value counts, as
        in FastAPI."""
        items = request.query_params.multi_items()
        raw: dict[str, Any] = {}
        for key, value in items:
            if key in self._lists:
                raw.setdefault(key, []).append(value)
            else:
                raw[key] = value
        if len(raw) > MAX_QUERY_KEYS:
            raise RequestValidationError(
                [{"type": "too_long", "loc": ("query",), "msg": "too many query parameters"}]
            )
        try:
            return self.model.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError(
                [{**error, "loc": ("query", *error["loc"])} for error in errors]
            ) from None

    def parameters(self) -> list[dict[str, Any]]:
        """The OpenAPI ``parameters`` of the model: one query parameter per field, with its
        JSON schema (references inlined, so the document needs no extra components)."""
        schema = self.model.model_json_schema(mode="validation")
        defs = schema.get("$defs", {})
        required = set(schema.get("required", ()))
        out = []
        for name, prop in schema.get("properties", {}).items():
            prop = _inline(prop, defs)
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {k: v for k, v in prop.items() if k != "description"},
            }
            if "description" in prop:
                param["description"] = prop["description"]
            if name in self._lists:
                param["style"], param["explode"] = "form", True
            out.append(param)
        return out


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = _inline(defs[ref.removeprefix("#/$defs/")], defs)
            rest = {k: _inline(v, defs) for k, v in node.items() if k != "$ref"}
            return {**target, **rest}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node
