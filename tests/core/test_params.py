"""Params: each kind's checks, whole-settings validation, and the layer registry's rules."""

from __future__ import annotations

import math

import pytest

from studio.core.errors import ShapeError
from studio.core.layers import (
    DuplicateLayerError,
    LayerSpec,
    all_specs,
    get_spec,
    has_spec,
    register,
    unregister,
)
from studio.core.params import Param, ParamSet, ParamValueError, params
from studio.core.shapes import TensorShape, conv_output_length, same_padding
from studio.core.training_settings import TRAINING_PARAMS


def _refused(param: Param, value) -> str:
    with pytest.raises(ValueError) as err:
        param.check(value)
    return str(err.value)


def test_bool_accepts_only_true_and_false():
    flag = Param("flag", "bool", False, "h")
    assert flag.check(True) is True and flag.check(False) is False
    for bad in (0, 1, "true", None, 1.0):
        assert "true or false" in _refused(flag, bad)


def test_int_refuses_bools_fractions_and_text_and_checks_the_range():
    count = Param("count", "int", 3, "h", minimum=1, maximum=10)
    assert count.check(5) == 5
    assert count.check(4.0) == 4 and type(count.check(4.0)) is int  # 4.0 from a JSON file is 4
    for bad in (True, False, 2.5, "3", None, [3], math.inf, math.nan):
        assert "whole number" in _refused(count, bad)
    assert "at least 1" in _refused(count, 0)
    assert "at most 10" in _refused(count, 11)
    assert "at most 10" in _refused(count, 10**400)
    assert "at most 10" in _refused(count, 1e308)


def test_float_must_be_a_finite_number_in_range():
    rate = Param("rate", "float", 0.5, "h", minimum=0.0, maximum=1.0)
    assert rate.check(1) == 1.0 and type(rate.check(1)) is float
    assert rate.check(0.25) == 0.25
    for bad in (True, "0.5", None, [0.5]):
        assert "number" in _refused(rate, bad)
    for bad in (math.nan, math.inf, -math.inf, 10**400, -(10**400)):
        assert "finite" in _refused(rate, bad)
    assert "at most 1" in _refused(rate, 1.5)
    assert "at least 0" in _refused(rate, -0.1)
    unbounded = Param("x", "float", 0.0, "h")
    assert unbounded.check(1e308) == 1e308
    assert "finite" in _refused(unbounded, 10**400)


def test_ints_checks_length_and_every_value():
    kernel = Param("kernel_size", "ints", (3, 3), "h", minimum=1, maximum=9, length=2)
    assert kernel.check([5, 4]) == (5, 4)
    assert kernel.check((2, 2.0)) == (2, 2)
    assert kernel.check(3) == (3, 3)  # one number means "the same on every axis", as in Keras
    assert "2 whole numbers" in _refused(kernel, [3])
    assert "2 whole numbers" in _refused(kernel, [3, 3, 3])
    assert "list" in _refused(kernel, "3x3")
    assert "list" in _refused(kernel, True)
    assert "whole number" in _refused(kernel, [3, True])
    assert "whole number" in _refused(kernel, [3, 1.5])
    assert "at least 1" in _refused(kernel, [3, 0])
    assert "at most 9" in _refused(kernel, [10, 3])
    assert kernel.to_json((3, 3)) == [3, 3]
    free = Param("shape", "ints", (1,), "h", minimum=1)
    assert free.check([1, 2, 3, 4]) == (1, 2, 3, 4)


def test_choice_and_str():
    mode = Param("mode", "choice", "a", "h", choices=("a", "b"))
    assert mode.check("b") == "b"
    for bad in ("c", "A", None, 0, ["a"]):
        assert "one of a, b" in _refused(mode, bad)
    text = Param("text", "str", "", "h")
    assert text.check("hi") == "hi"
    assert "text" in _refused(text, 5)


def test_optional_numbers_accept_none():
    limit = Param("limit", "int", None, "h", minimum=1, optional=True)
    assert limit.check(None) is None and limit.check(3) == 3
    assert "whole number" in _refused(Param("limit", "int", 1, "h"), None)


def test_invalid_defaults_and_bad_choices_are_refused_when_declared():
    with pytest.raises(ValueError):
        Param("x", "int", 0, "h", minimum=1)
    with pytest.raises(ValueError):
        Param("x", "float", math.nan, "h")
    with pytest.raises(ValueError):
        Param("x", "choice", "c", "h", choices=("a", "b"))
    with pytest.raises(ValueError):
        Param("x", "ints", (1, 2, 3), "h", length=2)


def test_paramset_validates_whole_settings():
    group = params(Param("a", "int", 1, "h", minimum=0), [Param("b", "bool", False, "h")])
    assert group.names() == ["a", "b"] and len(group) == 2
    assert group.validate({}) == {"a": 1, "b": False}
    assert group.validate({"b": True}) == {"a": 1, "b": True}
    assert group.validate({"b": True}, partial=True) == {"b": True}
    with pytest.raises(ParamValueError) as err:
        group.validate({"a": 1, "c": 2})
    assert err.value.name == "c" and "unknown" in str(err.value) and "a, b" in str(err.value)
    with pytest.raises(ParamValueError) as err:
        group.validate({"a": -1})
    assert err.value.name == "a" and "at least 0" in str(err.value)
    with pytest.raises(ParamValueError) as err:
        group.validate([("a", 1)])
    assert err.value.name is None
    with pytest.raises(KeyError):
        group["c"]


def test_duplicate_param_names_are_refused():
    with pytest.raises(ValueError, match="declared twice: a"):
        ParamSet((Param("a", "int", 1, "h"), Param("b", "int", 1, "h"), Param("a", "float", 1.0, "h")))


def test_every_declared_default_is_valid_and_already_normalised():
    groups = [(spec.type, spec.params) for spec in all_specs()] + [("training", TRAINING_PARAMS)]
    for owner, group in groups:
        for param in group:
            assert param.check(param.default) == param.default, (owner, param.name)
            assert param.help, (owner, param.name)
        # And the defaults as a whole are a valid configuration.
        assert group.validate(group.defaults()) == group.defaults(), owner


def test_every_spec_declares_a_usable_palette_entry():
    specs = all_specs()
    assert len({s.type for s in specs}) == len(specs)
    assert len({s.default_name for s in specs}) == len(specs)
    for spec in specs:
        assert spec.help and has_spec(spec.type) and get_spec(spec.type) is spec
    with pytest.raises(KeyError):
        get_spec("NoSuchLayer")


def _temporary_spec(type_name: str) -> LayerSpec:
    return LayerSpec(type=type_name, category="Core", help="A test layer.", params=params(),
                     infer=lambda inputs, cfg: inputs[0], build=lambda inputs, cfg: None)


def test_registering_a_duplicate_layer_name_is_an_error():
    spec = _temporary_spec("TestOnlyLayer")
    register(spec)
    try:
        assert get_spec("TestOnlyLayer") is spec
        assert spec.default_name == "test_only_layer"
        with pytest.raises(DuplicateLayerError, match="TestOnlyLayer"):
            register(_temporary_spec("TestOnlyLayer"))
        assert get_spec("TestOnlyLayer") is spec  # the first one stays
    finally:
        unregister("TestOnlyLayer")
    assert not has_spec("TestOnlyLayer")
    with pytest.raises(DuplicateLayerError):
        register(_temporary_spec("Dense"))
    assert get_spec("Dense").category == "Core"


def test_spec_with_unknown_category_is_refused():
    with pytest.raises(ValueError, match="category"):
        LayerSpec(type="X", category="Magic", help="", params=params(), infer=lambda i, c: i[0],
                  build=lambda i, c: None)


def test_arity_is_checked():
    dense = get_spec("Dense")
    with pytest.raises(ShapeError, match="needs an input"):
        dense.output_shape([], dense.config())
    with pytest.raises(ShapeError, match="at most 1"):
        dense.output_shape([TensorShape((3,)), TensorShape((3,))], dense.config())
    assert dense.output_shape([TensorShape((3,))], dense.config({"units": 7})).dims == (7,)


def test_shape_helpers_follow_keras():
    # 'valid': floor((n - span) / s) + 1; 'same': ceil(n / s); extra padding goes after.
    assert conv_output_length(150, 3, 1, 1, "valid") == 148
    assert conv_output_length(148, 2, 2, 1, "valid") == 74
    assert conv_output_length(9, 3, 1, 2, "valid") == 5
    assert conv_output_length(9, 4, 2, 1, "same") == 5
    assert same_padding(9, 4, 2) == (1, 2)
    assert same_padding(8, 4, 2) == (1, 1)
    assert same_padding(8, 1, 2) == (0, 0)
    assert same_padding(7, 3, 1, dilation=2) == (2, 2)
    assert str(TensorShape((32, 148, 148))) == "(N, 32, 148, 148)"
    assert TensorShape((7, 8)).with_features(3).dims == (7, 3)
    assert TensorShape((3, 4, 5)).with_features(6).dims == (6, 4, 5)


def test_a_setting_is_relevant_only_while_the_setting_it_depends_on_allows():
    from studio.core.params import Param

    height = Param("height", "int", 28, "Image height.", minimum=1, shown_when=("kind", ("image",)))
    always = Param("rate", "float", 0.5, "A rate.")
    assert height.relevant({"kind": "image"}) and not height.relevant({"kind": "vector"})
    assert always.relevant({})
