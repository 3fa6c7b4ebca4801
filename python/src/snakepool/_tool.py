"""The ``@tool`` decorator, JSON schemas from type hints, and argument binding."""

from __future__ import annotations

import collections.abc
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, overload

from ._context import ToolContext
from ._errors import InvalidArguments, utf8_safe

__all__ = ["ToolSpec", "collect_tools", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

TOOL_ATTR = "__snakepool_tool__"
THREAD_SAFE_ATTR = "__snakepool_thread_safe__"


@dataclass(frozen=True)
class _ToolMark:
    name: str | None
    description: str | None


@overload
def tool(fn: F, /) -> F: ...


@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...


def tool(
    fn: F | None = None, /, *, name: str | None = None, description: str | None = None
) -> F | Callable[[F], F]:
    """Register an adapter method as a tool that the Go side can call.

    Use it bare (``@tool``) or with options (``@tool(name="predict", description="...")``).

    Args:
        name: The tool name the Go side uses; defaults to the method name.
        description: Shown by ``describe``; defaults to the first paragraph of the docstring.

    Parameters are bound by name from the call's JSON object, defaults apply, and type hints
    (``int``, ``float``, ``str``, ``bool``, ``list[T]``, ``dict[str, T]``, ``T | None``, ``Literal``,
    ``Enum``, ``Annotated[T, "description"]``) are checked before the tool runs and give the JSON
    schema that ``describe`` reports. A parameter named ``ctx`` (or annotated :class:`ToolContext`)
    receives the call's context and is not part of the schema. A ``**kwargs`` parameter accepts
    arguments the signature does not name. The return value must be JSON-serialisable.
    """

    def mark(f: F) -> F:
        setattr(f, TOOL_ATTR, _ToolMark(name, description))
        return f

    if fn is not None:
        return mark(fn)
    return mark


# --- schemas and validators -----------------------------------------------------------------------

Validator = Callable[[Any, str], Any]


class _Mismatch(Exception):
    pass


_JSON_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _fail(path: str, expected: str, value: Any) -> typing.NoReturn:
    try:
        shown = json.dumps(value, default=repr)
    except RecursionError:
        shown = "(nested too deep to show)"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise _Mismatch(f"argument '{path}': expected {expected}, got {_json_type(value)} {shown}")


def _any(value: Any, path: str) -> Any:
    return value


def _compile(tp: Any) -> tuple[dict[str, Any], Validator]:
    """Return the JSON schema of a type hint and a validator that checks (and lightly converts) values."""
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return {}, _any
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Annotated:
        schema, validate = _compile(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            schema = {**schema, "description": notes[0]}
        return schema, validate
    if tp is None or tp is type(None):

        def v_null(value: Any, path: str) -> Any:
            if value is not None:
                _fail(path, "null", value)
            return None

        return {"type": "null"}, v_null
    if tp is bool:

        def v_bool(value: Any, path: str) -> Any:
            if type(value) is not bool:
                _fail(path, "boolean", value)
            return value

        return {"type": "boolean"}, v_bool
    if tp is int:

        def v_int(value: Any, path: str) -> Any:
            if type(value) is int:
                return value
            if type(value) is float and value.is_integer():
                return int(value)
            _fail(path, "integer", value)

        return {"type": "integer"}, v_int
    if tp is float:

        def v_float(value: Any, path: str) -> Any:
            # An int is a valid float (PEP 484's numeric tower) and passes unchanged, so square(12)
            # returns 144, not 144.0.
            if type(value) is float or type(value) is int:
                return value
            _fail(path, "number", value)

        return {"type": "number"}, v_float
    if tp is str:

        def v_str(value: Any, path: str) -> Any:
            if type(value) is not str:
                _fail(path, "string", value)
            return value

        return {"type": "string"}, v_str
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        compiled = [_compile(a) for a in args]
        schemas = [c[0] for c in compiled]
        validators = [c[1] for c in compiled]
        expected = " or ".join(_describe_schema(s) for s in schemas)

        def v_union(value: Any, path: str) -> Any:
            errors: list[tuple[dict[str, Any], _Mismatch]] = []
            for schema, validate in zip(schemas, validators, strict=True):
                try:
                    return validate(value, path)
                except _Mismatch as mismatch:
                    errors.append((schema, mismatch))
            # Report the branch of the value's own JSON type, whose message says what is wrong inside.
            kind = _json_type(value)
            for schema, branch_error in errors:
                if schema.get("type") == kind or (kind == "integer" and schema.get("type") == "number"):
                    raise branch_error
            _fail(path, expected, value)

        return {"anyOf": schemas}, v_union
    if origin is Literal:
        allowed = list(args)

        def v_literal(value: Any, path: str) -> Any:
            if value not in allowed or type(value) not in {type(a) for a in allowed}:
                _fail(path, "one of " + json.dumps(allowed), value)
            return value

        return {"enum": allowed}, v_literal
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = list(tp)
        values = [m.value for m in members]
        by_value = {m.value: m for m in members}

        def v_enum(value: Any, path: str) -> Any:
            try:
                return by_value[value]
            except (KeyError, TypeError):
                _fail(path, "one of " + json.dumps(values, default=str), value)

        return {"enum": values}, v_enum
    seq_types = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Iterable)
    if tp in seq_types or origin in seq_types:
        container = origin or tp
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return _compile_fixed_tuple(args)
        item_schema, item_validate = _compile(args[0]) if args else ({}, _any)
        convert: Callable[[list[Any]], Any] = (
            container if container in (tuple, set, frozenset) else (lambda x: x)
        )
        array_schema: dict[str, Any] = {"type": "array"}
        if item_schema:
            array_schema["items"] = item_schema
        check_items = item_validate is not _any

        def v_array(value: Any, path: str) -> Any:
            if type(value) is not list:
                _fail(path, "array", value)
            if check_items:
                value = [item_validate(item, f"{path}[{i}]") for i, item in enumerate(value)]
            return convert(value)

        return array_schema, v_array
    map_types = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
    if tp in map_types or origin in map_types:
        value_schema, value_validate = _compile(args[1]) if len(args) == 2 else ({}, _any)
        obj_schema: dict[str, Any] = {"type": "object"}
        if value_schema:
            obj_schema["additionalProperties"] = value_schema
        check_values = value_validate is not _any

        def v_object(value: Any, path: str) -> Any:
            if type(value) is not dict:
                _fail(path, "object", value)
            if check_values:
                value = {k: value_validate(v, f"{path}.{k}") for k, v in value.items()}
            return value

        return obj_schema, v_object
    # Classes we cannot check (TypedDict, dataclasses, ...): accept any JSON value.
    return {}, _any


def _compile_fixed_tuple(args: tuple[Any, ...]) -> tuple[dict[str, Any], Validator]:
    compiled = [_compile(a) for a in args]
    n = len(compiled)

    def v_tuple(value: Any, path: str) -> Any:
        if type(value) is not list or len(value) != n:
            _fail(path, f"array of {n} items", value)
        return tuple(
            c[1](item, f"{path}[{i}]") for i, (c, item) in enumerate(zip(compiled, value, strict=True))
        )

    schema = {"type": "array", "prefixItems": [c[0] for c in compiled], "minItems": n, "maxItems": n}
    return schema, v_tuple


def _describe_schema(schema: dict[str, Any]) -> str:
    if schema.get("type") == "array" and "items" in schema:
        return f"array of {_describe_schema(schema['items'])}"
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return f"object of {_describe_schema(schema['additionalProperties'])}"
    if "type" in schema:
        return str(schema["type"])
    if "enum" in schema:
        return "one of " + json.dumps(schema["enum"], default=str)
    if "anyOf" in schema:
        return " or ".join(_describe_schema(s) for s in schema["anyOf"])
    return "any value"


# --- docstrings -----------------------------------------------------------------------------------

_ARG_LINE = re.compile(r"^\s{2,}(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _doc_parts(func: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The first paragraph of a docstring and the descriptions of a Google-style ``Args:`` section."""
    doc = inspect.getdoc(func) or ""
    summary = doc.split("\n\n", 1)[0].strip().replace("\n", " ")
    params: dict[str, str] = {}
    lines = doc.splitlines()
    in_args = False
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if not in_args:
            continue
        if stripped and not line.startswith(" "):
            break
        m = _ARG_LINE.match("  " + line if not line.startswith("  ") else line)
        indent = len(line) - len(line.lstrip())
        if m and (current is None or indent <= 4):
            current = m.group(1).lstrip("*")
            params[current] = m.group(2).strip()
        elif current and stripped:
            params[current] = (params[current] + " " + stripped).strip()
    return summary, params


# --- tools ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    name: str
    validate: Validator
    required: bool
    type_text: str


class ToolSpec:
    """A tool of a loaded adapter: its name, description, schema and argument binder.

    Attributes:
        name: The name the Go side calls.
        description: Human-readable description.
        input_schema: JSON schema (an object schema) of the arguments.
        attribute: The adapter attribute that implements the tool.
        wants_context: The name of the parameter that receives the :class:`ToolContext`, or None.
        thread_safe: Whether the method is marked ``@thread_safe_method``.
    """

    __slots__ = (
        "_by_name",
        "_names",
        "_params",
        "_required",
        "accepts_extra",
        "attribute",
        "description",
        "input_schema",
        "input_schema_json",
        "name",
        "thread_safe",
        "wants_context",
    )

    def __init__(self, attribute: str, func: Callable[..., Any], mark: _ToolMark) -> None:
        self.attribute = attribute
        self.name = mark.name or attribute
        summary, param_docs = _doc_parts(func)
        self.description = mark.description if mark.description is not None else summary
        self.thread_safe = bool(getattr(func, THREAD_SAFE_ATTR, False))
        target = inspect.unwrap(func)
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception:
            hints = {}
        signature = inspect.signature(target)
        params = list(signature.parameters.values())
        if params and params[0].name in ("self", "cls"):
            params = params[1:]
        self.wants_context: str | None = None
        self.accepts_extra = False
        self._params: list[_Param] = []
        properties: dict[str, Any] = {}
        required: list[str] = []
        for p in params:
            hint = hints.get(p.name, p.annotation)
            if p.name == "ctx" or hint is ToolContext:
                self.wants_context = p.name
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                self.accepts_extra = True
                continue
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(
                    f"tool '{self.name}': parameter '{p.name}' is positional-only; "
                    "tool arguments are bound by name"
                )
            schema, validate = _compile(hint)
            schema = dict(schema)
            if p.name in param_docs and "description" not in schema:
                schema["description"] = param_docs[p.name]
            has_default = p.default is not inspect.Parameter.empty
            if has_default:
                try:
                    json.dumps(p.default)
                    schema["default"] = p.default
                except (TypeError, ValueError):
                    pass
            else:
                required.append(p.name)
            properties[p.name] = schema
            self._params.append(_Param(p.name, validate, not has_default, _describe_schema(schema)))
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": self.accepts_extra,
        }
        self.input_schema_json = json.dumps(self.input_schema, default=str)
        self._names = frozenset(p.name for p in self._params)
        self._required = tuple(p for p in self._params if p.required)
        self._by_name = {p.name: p for p in self._params}

    def parse(self, args_json: bytes) -> dict[str, Any]:
        """Decode the JSON arguments of a call (empty means no arguments)."""
        if not args_json or args_json == b"{}":
            return {}
        try:
            args = json.loads(args_json)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArguments(f"tool '{self.name}': arguments are not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidArguments(
                f"tool '{self.name}': arguments are nested too deep for Python's JSON decoder (it stops "
                "at the interpreter's recursion limit: about 1,000 levels of arrays and objects in "
                "Python 3.11, more in newer versions)"
            ) from None
        if type(args) is not dict:
            raise InvalidArguments(
                f"tool '{self.name}': arguments must be a JSON object, got {_json_type(args)}"
            )
        return args

    def bind(self, args: dict[str, Any], ctx: ToolContext | None = None) -> dict[str, Any]:
        """Check ``args`` against the parameters and return the keyword arguments of the call.

        Raises:
            InvalidArguments: naming every missing, unknown or wrongly typed argument.
        """
        if not args and not self._required:
            return {self.wants_context: ctx} if self.wants_context else {}
        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        by_name = self._by_name
        for key, value in args.items():
            param = by_name.get(key)
            if param is None:
                if self.accepts_extra and key != self.wants_context:
                    kwargs[key] = value
                else:
                    problems.append(f"unknown argument '{key}'")
                continue
            try:
                kwargs[key] = param.validate(value, key)
            except _Mismatch as exc:
                problems.append(str(exc))
        for param in self._required:
            if param.name not in args:
                problems.append(f"missing required argument '{param.name}' ({param.type_text})")
        if problems:
            accepted = ", ".join(
                f"{p.name}: {p.type_text}" + ("" if p.required else " (optional)") for p in self._params
            )
            # An argument's name may be a lone surrogate (JSON's "\\udcff"), which no message can carry.
            raise InvalidArguments(
                utf8_safe(
                    f"tool '{self.name}': "
                    + "; ".join(problems)
                    + f". It accepts: {accepted or 'no arguments'}"
                )
            )
        if self.wants_context:
            kwargs[self.wants_context] = ctx
        return kwargs


def collect_tools(cls: type) -> dict[str, ToolSpec]:
    """Find the ``@tool`` methods of an adapter class, in definition order (base classes first)."""
    seen: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for attr in vars(klass):
            seen.setdefault(attr, None)
    tools: dict[str, ToolSpec] = {}
    for attr in seen:
        value = inspect.getattr_static(cls, attr, None)
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        mark = getattr(value, TOOL_ATTR, None)
        if not isinstance(mark, _ToolMark) or not callable(value):
            continue
        spec = ToolSpec(attr, value, mark)
        if spec.name in tools:
            raise TypeError(
                f"adapter {cls.__name__}: two methods register the tool name '{spec.name}' "
                f"({tools[spec.name].attribute} and {attr})"
            )
        tools[spec.name] = spec
    return tools
