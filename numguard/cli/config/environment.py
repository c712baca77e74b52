"""The environment over the CRM settings, with variable names derived from the model.

NUMGUARD_CRM_ENDPOINTS=a,b    adds endpoints a and b
NUMGUARD_CRM_<NAME>_<KEY>     an endpoint's key: NUMGUARD_CRM_SALESFORCE_URL,
                              NUMGUARD_CRM_SALESFORCE_BACKOFF_MAX_SECONDS,
                              NUMGUARD_CRM_SALESFORCE_EVENT_TYPES (comma-separated)
NUMGUARD_CRM_<KEY>            a [notifier] key: NUMGUARD_CRM_MAX_PENDING_PER_PARTITION
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from numguard.consumer.crm.config import ENDPOINTS_ENV, Endpoint, NotifierSettings
from numguard.core.problems import describe
from numguard.core.settings import env_variable

PREFIX = "NUMGUARD_CRM"
_NOT_FROM_THE_ENVIRONMENT = {"name", "secret"}
_LISTS = {list, tuple, set, frozenset}


def keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every leaf key of a settings model, nested tables as paths: ("backoff", "max_seconds")."""
    for name, field in model.model_fields.items():
        if name in _NOT_FROM_THE_ENVIRONMENT:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from keys(annotation, (*prefix, name))
        else:
            yield (*prefix, name)


def over_crm(document: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[dict, list[str]]:
    """The CRM document with the environment applied, and the variables that could not be
    read (each named, with what was expected)."""
    problems: list[str] = []
    result = dict(document)
    notifier = result.get("notifier", {})
    if isinstance(notifier, dict):
        result["notifier"] = _over(notifier, NotifierSettings, PREFIX, environ, problems)
    endpoints = result.get("endpoints", [])
    if not isinstance(endpoints, list | tuple):
        return result, problems  # the model reports the shape
    endpoints = list(endpoints)
    named = {t.get("name") for t in endpoints if isinstance(t, dict)}
    listed = [n.strip() for n in environ.get(ENDPOINTS_ENV, "").split(",") if n.strip()]
    endpoints += [{"name": name} for name in listed if name not in named]
    result["endpoints"] = [
        _over(table, Endpoint, env_variable(PREFIX, table["name"]), environ, problems)
        if isinstance(table, dict) and isinstance(table.get("name"), str) else table
        for table in endpoints
    ]  # fmt: skip
    return result, problems


def _over(
    table: dict[str, Any],
    model: type[BaseModel],
    prefix: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> dict[str, Any]:
    table = {k: dict(v) if isinstance(v, dict) else v for k, v in table.items()}
    for path in keys(model):
        variable = env_variable(prefix, *path)
        if variable not in environ:
            continue
        try:
            value = _parse(model, path, environ[variable].strip())
        except ValidationError as error:
            problems.append(f"{variable}: {describe(error.errors()[0])}")
            continue
        node = table
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[path[-1]] = value
    return table


def _parse(model: type[BaseModel], path: tuple[str, ...], text: str) -> Any:
    for part in path[:-1]:
        annotation = model.model_fields[part].annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation
    annotation = model.model_fields[path[-1]].annotation
    assert annotation is not None
    if get_origin(annotation) in _LISTS:
        return [part.strip() for part in text.split(",") if part.strip()]
    return TypeAdapter(annotation).validate_strings(text)
