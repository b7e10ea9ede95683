"""Reading an OpenAPI 3.0 document in tests: `$ref`s, its operations and bodies, and its schemas as JSON Schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (#/...) to what they name (in an OpenAPI or AsyncAPI document)."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


METHODS = ("get", "put", "post", "patch", "delete")


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every operation of the document: method, path and the operation object."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def all_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in operations(spec)]


def parameters_of(spec: dict[str, Any], method: str, path: str) -> list[dict[str, Any]]:
    item = spec["paths"][path]
    return [resolve(spec, p) for p in item.get("parameters", []) + item[method].get("parameters", [])]


def json_bodies(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON request and response body of every operation: where it is, and its media type object."""
    for method, path, op in operations(spec):
        content = resolve(spec, op.get("requestBody", {})).get("content", {})
        if "application/json" in content:
            yield f"{method.upper()} {path} request", content["application/json"]
        for status, response in op["responses"].items():
            content = resolve(spec, response).get("content", {})
            if "application/json" in content:
                yield f"{method.upper()} {path} {status}", content["application/json"]


def as_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12: `nullable` becomes a null alternative (a nested schema's bare
    nullable object, null), and an object schema that lists its properties accepts no others (an example must not
    show a field the API does not have)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node == {"type": "object", "nullable": True}:
        # apispec's "or null" branch of a nullable nested schema (`anyOf: [{$ref}, this]`): taken as it is, any
        # object would pass for the nested one, so it stands for null alone.
        return {"type": "null"}
    converted = {key: as_json_schema(value) for key, value in node.items() if key not in ("nullable", "example")}
    if "properties" in node and "additionalProperties" not in node:
        converted["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def example_problems(spec: dict[str, Any], schema: dict[str, Any], example: Any) -> list[str]:
    """What the schema says is wrong with the example (formats checked too: uuid, date-time, email)."""
    root = {**as_json_schema(schema), "components": {"schemas": as_json_schema(spec["components"]["schemas"])}}
    validator = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(example)]


def strings(node: Any) -> Iterator[str]:
    """Every key and string value of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node
