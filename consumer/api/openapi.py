"""The OpenAPI 3.1 document `numguard serve` publishes at /openapi.json."""

from __future__ import annotations

from typing import Any

_DECISION = {
    "type": "object",
    "required": ["mdn", "decision", "reason"],
    "properties": {
        "mdn": {"type": "string", "description": "E.164", "examples": ["+12025550100"]},
        "decision": {"type": "string", "enum": ["allow", "hold", "block"]},
        "reason": {"type": "string", "enum": ["active", "no_record", "suspended", "deactivated"]},
        "deactivated_on": {"type": "string", "format": "date"},
        "new_mdn": {"type": "string"},
        "suspended_since": {"type": "string", "format": "date-time"},
    },
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_NUMBER = {
    "name": "number", "in": "path", "required": True, "schema": {"type": "string"},
    "description": "+12025550100, 12025550100 or 2025550100 (URL-encode a leading +)",
}  # fmt: skip
_CONSENT = {
    "name": "consented_at", "in": "query", "required": False,
    "schema": {"type": "string", "format": "date-time"},
    "description": "When the subscriber opted in (ISO 8601; UTC if no offset). A deactivation "
    "voids every consent given on or before its UTC date; without this parameter any "
    "deactivation on record blocks.",
}  # fmt: skip


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document(max_batch: int) -> dict[str, Any]:
    errors = {"400": _json(_ERROR, "unreadable number or date"), "401": _json(_ERROR, "no token")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "numguard", "version": "1",
                 "description": "May I text this number? Answers from the suppression store."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Decision": _DECISION, "Error": _ERROR},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/numbers/{number}": {"get": {
                "summary": "The decision for one number", "parameters": [_NUMBER, _CONSENT],
                "responses": {"200": _json({"$ref": "#/components/schemas/Decision"}, "decision"),
                              **errors},
            }},
            "/v1/check": {"post": {
                "summary": f"Decisions for up to {max_batch} numbers, in order",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items"], "properties": {"items": {
                        "type": "array", "maxItems": max_batch, "items": {
                            "type": "object", "required": ["number"], "properties": {
                                "number": {"type": "string"},
                                "consented_at": {"type": "string", "format": "date-time"},
                            }}}}}}}},
                "responses": {"200": _json({"type": "object", "properties": {"results": {
                    "type": "array", "items": {"oneOf": [
                        {"$ref": "#/components/schemas/Decision"},
                        {"type": "object", "properties": {"index": {"type": "integer"},
                                                          "error": {"type": "string"}}},
                    ]}}}}, "one result per item; an unreadable item gets an error"),
                    "413": _json(_ERROR, "too many items"), **errors},
            }},
            "/v1/numbers/{number}/history": {"get": {
                "summary": "Every event applied to the number, oldest first",
                "parameters": [_NUMBER],
                "responses": {"200": _json({"type": "object"}, "the audit trail"), **errors},
            }},
            "/healthz": {"get": {"summary": "200 when the store answers", "security": [],
                                 "responses": {"200": {"description": "ok"},
                                               "503": {"description": "store unavailable"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                                 "responses": {"200": {"description": "text exposition"}}}},
        },
    }  # fmt: skip
