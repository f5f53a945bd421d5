"""``/docs``: the JSON API's reference, rendered on the server from the app's own OpenAPI
document (``/openapi.json``), with no script and nothing from another site.

FastAPI's own ``/docs`` loads Swagger UI from a CDN and is blank without internet, and no
installed package carries Swagger UI's files, so this page lists what the document says:
each operation (method, path, what it does), its parameters, its request body's fields and
its answers, then the shapes (schemas) those name, each once, linked from where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class FieldDoc:
    """One parameter or property: its name, type in words, whether it must be given."""

    name: str
    type: str
    required: bool
    where: str = ""            # query, path, header (parameters only)
    description: str = ""
    shape: str | None = None   # the schema it names, for a link


@dataclass(frozen=True)
class AnswerDoc:
    status: str
    description: str
    shape: str | None


@dataclass
class OperationDoc:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[FieldDoc] = field(default_factory=list)
    body_type: str | None = None          # multipart/form-data, application/json
    body: list[FieldDoc] = field(default_factory=list)
    answers: list[AnswerDoc] = field(default_factory=list)


@dataclass(frozen=True)
class ShapeDoc:
    name: str
    description: str
    fields: list[FieldDoc]


def ref_name(schema: dict[str, Any]) -> str | None:
    """``JobOut`` for ``{"$ref": "#/components/schemas/JobOut"}``."""
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def type_words(schema: dict[str, Any]) -> str:
    """A schema's type as people read it: ``string or null``, ``list of file``."""
    if ref_name(schema):
        return str(ref_name(schema))
    if "anyOf" in schema:
        kinds = list(dict.fromkeys(type_words(s) for s in schema["anyOf"]))
        return " or ".join(kinds)
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "list of " + type_words(schema.get("items", {}))
    if kind == "string" and (schema.get("format") == "binary" or "contentMediaType" in schema):
        return "file"
    if kind == "object" and "additionalProperties" in schema:
        return "object"
    return str(kind)


def _first_ref(schema: dict[str, Any]) -> str | None:
    """The schema a field names (itself, or inside a list or an "or")."""
    for part in (schema, schema.get("items", {}), *schema.get("anyOf", ())):
        if ref_name(part):
            return ref_name(part)
    return None


def fields_of(schema: dict[str, Any]) -> list[FieldDoc]:
    """The properties of an object schema."""
    required = set(schema.get("required", ()))
    return [FieldDoc(name, type_words(prop), name in required,
                     description=str(prop.get("description", "")), shape=_first_ref(prop))
            for name, prop in schema.get("properties", {}).items()]


def operations(spec: dict[str, Any]) -> list[OperationDoc]:
    """Every operation of ``spec``, in the document's order."""
    schemas = spec.get("components", {}).get("schemas", {})
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            doc = OperationDoc(method.upper(), path, op.get("summary", ""),
                               op.get("description", ""))
            doc.parameters = [FieldDoc(p["name"], type_words(p.get("schema", {})),
                                       bool(p.get("required")), p.get("in", ""),
                                       str(p.get("description", "")))
                              for p in op.get("parameters", ())]
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                body = content.get("schema", {})
                doc.body_type = media
                doc.body = fields_of(schemas.get(ref_name(body) or "", body))
            doc.answers = [AnswerDoc(status, answer.get("description", ""),
                                     next((_first_ref(c.get("schema", {}))
                                           for c in answer.get("content", {}).values()), None))
                           for status, answer in op.get("responses", {}).items()]
            found.append(doc)
    return found


def shapes(spec: dict[str, Any]) -> list[ShapeDoc]:
    """The document's schemas that answers and fields name (request bodies are shown where
    they are sent)."""
    schemas = spec.get("components", {}).get("schemas", {})
    return [ShapeDoc(name, str(schema.get("description", "")), fields_of(schema))
            for name, schema in schemas.items() if not name.startswith("Body_")]


@router.get("/docs", response_class=HTMLResponse)
def api_reference(request: Request) -> Response:
    """The API reference page (works offline: no script, no CDN)."""
    spec = request.app.openapi()
    return request.app.state.templates.TemplateResponse(request, "api_docs.html", {
        "info": spec.get("info", {}), "operations": operations(spec), "shapes": shapes(spec)})


@router.get("/redoc")
def old_viewer() -> Response:
    """FastAPI's other viewer (a CDN script too) now points at ``/docs``."""
    return RedirectResponse("/docs", status_code=308)
