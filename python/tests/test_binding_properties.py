"""Property tests (hypothesis) of argument binding: ``ToolSpec.parse`` and ``ToolSpec.bind``.

Whatever JSON a caller sends, binding either gives the tool its keyword arguments or raises
:class:`InvalidArguments` naming every unknown, missing and wrongly typed argument; it never raises
anything else. The type checks are compared with an oracle written here, independently of the
validators. Its messages can always be sent: the bridge carries them in protobuf strings, which hold
UTF-8 only (an argument name that is a lone surrogate is escaped).
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snakepool import Adapter, InvalidArguments, ToolContext, ToolSpec, collect_tools, tool

# The machine is shared and loaded: no per-example deadline.
binding = settings(deadline=None)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Bound(Adapter):
    @tool
    def typed(
        self,
        n: int,
        x: float,
        s: str,
        flag: bool,
        tags: list[str],
        weights: dict[str, float],
        maybe: str | None = None,
        mode: Literal["a", "b"] = "a",
        color: Color = Color.RED,
    ) -> None:
        """Parameters of every kind binding checks."""

    @tool
    def extra(self, a: int, ctx: ToolContext, **rest: Any) -> None:
        """A required argument, the context, and any other argument."""

    @tool
    def nothing(self) -> None:
        """No arguments at all."""


TOOLS = collect_tools(Bound)
TYPED: ToolSpec = TOOLS["typed"]
EXTRA: ToolSpec = TOOLS["extra"]
NOTHING: ToolSpec = TOOLS["nothing"]


# --- the oracle: which JSON values fit which parameter ---------------------------------------------


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


FITS: dict[str, Any] = {
    "n": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "x": _is_number,
    "s": lambda v: type(v) is str,
    "flag": lambda v: type(v) is bool,
    "tags": lambda v: type(v) is list and all(type(i) is str for i in v),
    "weights": lambda v: type(v) is dict and all(_is_number(i) for i in v.values()),
    "maybe": lambda v: v is None or type(v) is str,
    "mode": lambda v: type(v) is str and v in ("a", "b"),
    "color": lambda v: type(v) is str and v in ("red", "blue"),
}
REQUIRED = ("n", "x", "s", "flag", "tags", "weights")


# --- strategies ------------------------------------------------------------------------------------

# Values at the edges of the types (a bool is not an integer, 1.0 is one, "red" is a Color...)
# come often; the rest are any JSON scalars.
edges = st.sampled_from([True, False, 0, 1, -1, 1.0, -2.0, 0.5, 1e300, "", "a", "b", "red", "blue", None])
scalars = st.one_of(
    edges,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
valid_values: dict[str, st.SearchStrategy[Any]] = {
    "n": st.integers(),
    "x": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    "s": st.text(),
    "flag": st.booleans(),
    "tags": st.lists(st.text(), max_size=4),
    "weights": st.dictionaries(
        st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False), max_size=4
    ),
    "maybe": st.none() | st.text(),
    "mode": st.sampled_from(["a", "b"]),
    "color": st.sampled_from(["red", "blue"]),
}
valid_typed_args = st.fixed_dictionaries(
    {name: valid_values[name] for name in REQUIRED},
    optional={name: valid_values[name] for name in ("maybe", "mode", "color")},
)
# Keys: the parameters' names (with valid or arbitrary values), and arbitrary names (without a
# quote, so that a message's "argument 'k'" can only be about key k).
names = st.text(st.characters(codec="utf-8", exclude_characters="'"), max_size=8)
# Argument values: mostly scalars (edges included), else any JSON.
arg_values = scalars | json_values
any_typed_args = st.dictionaries(st.sampled_from(sorted(FITS)) | names, arg_values, max_size=10) | (
    valid_typed_args.flatmap(
        lambda args: st.dictionaries(st.sampled_from(sorted(args)), arg_values, min_size=1, max_size=3).map(
            lambda changed: {**args, **changed}
        )
    )
)


# --- properties ------------------------------------------------------------------------------------


@binding
@given(valid_typed_args)
def test_valid_arguments_bind_to_their_values(args: dict[str, Any]) -> None:
    kwargs = TYPED.bind(args)
    assert set(kwargs) == set(args)
    for name, value in args.items():
        got = kwargs[name]
        if name == "color":
            assert got is Color(value)
        elif name == "n":
            assert got == value and type(got) is int
        else:
            assert got == value and type(got) is type(value)


@binding
@given(any_typed_args)
def test_binding_succeeds_or_names_every_problem(args: dict[str, Any]) -> None:
    unknown = [k for k in args if k not in FITS]
    missing = [k for k in REQUIRED if k not in args]
    mistyped = [k for k, v in args.items() if k in FITS and not FITS[k](v)]
    before = json.dumps(args, sort_keys=True)
    try:
        kwargs = TYPED.bind(args)
    except InvalidArguments as exc:
        message = str(exc)
        assert unknown or missing or mistyped, f"refused valid arguments: {message}"
        assert message.startswith("tool 'typed': ")
        for k in unknown:
            assert f"unknown argument '{k}'" in message
        for k in missing:
            assert f"missing required argument '{k}'" in message
        for k in mistyped:
            assert f"argument '{k}" in message  # a nested path, e.g. 'tags[1]', starts with the name
        for k in set(args) - set(mistyped) - set(unknown):
            for path in (f"argument '{k}': ", f"argument '{k}[", f"argument '{k}."):
                assert path not in message, f"{k!r} fits, yet: {message}"
        assert "It accepts: n: integer, x: number, s: string, flag: boolean" in message
        message.encode("utf-8")  # the bridge can send it
    else:
        assert not (unknown or missing or mistyped), f"accepted {args!r} as {kwargs!r}"
        assert set(kwargs) == set(args)
    assert json.dumps(args, sort_keys=True) == before, "bind changed its input"


@binding
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.integers())
def test_extra_arguments_pass_through_and_the_context_is_not_an_argument(
    rest: dict[str, Any], a: int
) -> None:
    rest.pop("a", None)
    ctx = ToolContext()
    if "ctx" in rest:
        with pytest.raises(InvalidArguments, match="unknown argument 'ctx'"):
            EXTRA.bind({"a": a, **rest}, ctx)
        return
    kwargs = EXTRA.bind({"a": a, **rest}, ctx)
    assert kwargs == {"a": a, **rest, "ctx": ctx}
    assert kwargs["ctx"] is ctx


@binding
@given(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=4))
def test_a_tool_without_parameters_refuses_every_argument(args: dict[str, Any]) -> None:
    with pytest.raises(InvalidArguments) as refused:
        NOTHING.bind(args)
    for k in args:
        assert f"unknown argument '{k}'" in str(refused.value)
    assert str(refused.value).endswith("It accepts: no arguments")


@binding
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_parse_decodes_any_json_object(obj: dict[str, Any]) -> None:
    assert TYPED.parse(json.dumps(obj).encode()) == obj
    assert TYPED.parse(json.dumps(obj, ensure_ascii=False).encode()) == obj


@binding
@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_parse_refuses_json_that_is_not_an_object(value: Any) -> None:
    with pytest.raises(InvalidArguments, match=r"^tool 'typed': arguments must be a JSON object, got "):
        TYPED.parse(json.dumps(value).encode())


@binding
@given(st.binary(max_size=64))
def test_parse_of_any_bytes_is_an_object_or_invalid_arguments(data: bytes) -> None:
    try:
        args = TYPED.parse(data)
    except InvalidArguments as exc:
        assert str(exc).startswith("tool 'typed': arguments ")
    else:
        assert type(args) is dict


@binding
@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()))
def test_a_fractional_number_is_not_an_integer(value: float) -> None:
    with pytest.raises(InvalidArguments, match="argument 'n': expected integer, got number"):
        TYPED.bind({"n": value, "x": 1, "s": "", "flag": True, "tags": [], "weights": {}})


# --- input that once lost the call or was retried (docs/reliability.md#bad-input) --------------------


def test_arguments_nested_too_deep_are_invalid_arguments() -> None:
    # Deeper than any Python's JSON decoder goes (3.11 stops at about 1,000 levels, 3.13 at 20,000).
    with pytest.raises(InvalidArguments) as refused:
        TYPED.parse(b'{"tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert str(refused.value).startswith(
        "tool 'typed': arguments are nested too deep for Python's JSON decoder"
    )


def test_a_value_nested_too_deep_to_show_is_still_named() -> None:
    # bind is called with decoded values; one deeper than json.dumps goes cannot be shown in the
    # message, which must still say what was wrong (and nothing else may be raised).
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(
        InvalidArguments,
        match=re.escape("argument 'n': expected integer, got array (nested too deep to show)"),
    ):
        TYPED.bind({"n": value, "x": 1, "s": "", "flag": True, "tags": [], "weights": {}})


def test_the_message_of_an_unencodable_argument_name_can_be_sent() -> None:
    with pytest.raises(InvalidArguments) as refused:
        TYPED.bind(json.loads('{"\\udcff": 1}'))
    message = str(refused.value)
    message.encode("utf-8")
    assert "unknown argument '\\udcff'" in message


#: Names with lone surrogates, which UTF-8 cannot encode, among others.
_any_names = st.text(alphabet=st.characters(categories=["Cs", "Lu", "Nd", "Po"]), max_size=5)


@binding
@given(st.dictionaries(_any_names, st.integers(), max_size=4), st.sampled_from(["", "weights"]))
def test_every_message_can_be_encoded(args: dict[str, Any], nest: str) -> None:
    if nest:
        args = {"n": 1, "x": 1, "s": "", "flag": True, "tags": [], nest: args}
    try:
        TYPED.bind(args)
    except InvalidArguments as exc:
        str(exc).encode("utf-8")
