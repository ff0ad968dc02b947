"""The OpenAPI document says what the API enforces.

Litestar's schema for a msgspec Struct lists its fields; it does not say that unknown
fields are refused (`forbid_unknown_fields=True` on every request body) nor that a payee
takes exactly one of its fields. This schema plugin adds both to the generated
components: `additionalProperties: false` on every Struct that forbids unknown fields,
and a `oneOf` for Structs that name their alternatives in `__exactly_one_of__`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.types.internal_types import PathParameterDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import Method
    from litestar.typing import FieldDefinition


class TruthfulStructSchemaPlugin(StructSchemaPlugin):
    """Struct schemas with `additionalProperties: false` and exactly-one-of alternatives."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        """The default Struct schema, tightened to what decoding enforces."""
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct: Any = field_definition.type_
        if struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        alternatives: tuple[str, ...] = getattr(struct, "__exactly_one_of__", ())
        if alternatives:
            schema.one_of = [
                Schema(
                    required=[name],
                    properties={name: Schema(type=OpenAPIType.STRING)},
                    title=f"by {name}",
                )
                for name in alternatives
            ]
        return schema


def callback_operation_id(
    handler: HTTPRouteHandler, method: Method, components: list[str | PathParameterDefinition]
) -> str:
    """`providerCallback[ByReference]{Post,Put}`: one id per path and method of the callback."""
    del handler
    by_reference = any(
        isinstance(c, PathParameterDefinition) and c.name == "reference" for c in components
    )
    return "providerCallback" + ("ByReference" if by_reference else "") + method.capitalize()


def _camel(words: list[str]) -> str:
    parts = [w for word in words for w in word.replace("-", "_").split("_") if w]
    return parts[0].lower() + "".join(p.capitalize() for p in parts[1:]) if parts else "operation"


def operation_id(
    handler: HTTPRouteHandler, method: Method, components: list[str | PathParameterDefinition]
) -> str:
    """The default operation id: the handler's name in camelCase (`create_payout` -> `createPayout`).

    A handler served on several paths or methods gets the path's words and the method
    appended (`healthLiveAtHealthLiveGet`), so every id stays unique. Routes that set
    `operation_id=` keep theirs.
    """
    base = _camel([handler.handler_name])
    if len(handler.paths) == 1 and len(handler.http_methods) == 1:
        return base
    words = [c if isinstance(c, str) else c.name for c in components]
    suffix = _camel([*words, method.lower()])
    return f"{base}At{suffix[0].upper()}{suffix[1:]}"


__all__ = ["TruthfulStructSchemaPlugin", "callback_operation_id", "operation_id"]
