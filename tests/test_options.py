"""The one parser from text to Options (options.parse_fields), as every shell uses it."""

from __future__ import annotations

import pytest

from stylegram.options import OptionErrors, Options, Outputs, parse_fields


def test_names_may_be_written_as_fields_or_flags_and_empty_values_keep_the_base() -> None:
    base = Options(size=64, iterations=7)
    o = parse_fields({"style_weight": "50", "style-weight": "", "--tol": "0", "size": " "}, base)
    assert (o.style_weight, o.tol, o.size, o.iterations) == (50.0, 0.0, 64, 7)


def test_a_scales_list_alone_sets_the_size() -> None:
    assert parse_fields({"scales": "64,128"}).size == 128
    assert parse_fields({"scales": "2", "size": "100"}).scale_sizes() == [50, 100]


def test_every_bad_field_is_reported_at_once_by_name() -> None:
    with pytest.raises(OptionErrors) as e:
        parse_fields({"size": "abc", "tol": "2", "pooling": "median", "brush": "3", "strength": "1.5"})
    assert set(e.value.fields) == {"size", "tol", "pooling", "brush", "strength"}
    assert "expected an integer" in e.value.fields["size"] and "unknown option 'brush'" in e.value.fields["brush"]
    assert str(e.value) == e.value.fields["size"]  # the first, for a one-line message


def test_hidden_fields_and_narrowed_choices_are_a_shells_own() -> None:
    with pytest.raises(OptionErrors, match="unknown option 'weights'"):
        parse_fields({"weights": "/etc/passwd"}, hidden=("weights",))
    with pytest.raises(OptionErrors, match="--init must be one of"):
        parse_fields({"init": "/etc/passwd"}, choices={"init": ("noise", "palette")})
    assert parse_fields({"init": "/tmp/x.png"}).init == "/tmp/x.png"  # the command line takes a path


def test_outputs_parse_the_same_way() -> None:
    assert parse_fields({"print-every": "5"}, Outputs()).print_every == 5
    with pytest.raises(OptionErrors, match="--report"):
        parse_fields({"report": "r.txt"}, Outputs())


def test_values_that_only_make_sense_together_are_taken_together() -> None:
    o = parse_fields({"style_layers": "conv1_1,conv2_1,conv3_1", "style_layer_weights": "3,2,1"})
    assert o.layer_weights() == {"conv1_1": 0.5, "conv2_1": 1 / 3, "conv3_1": 1 / 6}
    with pytest.raises(OptionErrors) as e:  # a bad size beside them blames the size alone
        parse_fields({"style_layers": "conv1_1,conv2_1,conv3_1", "style_layer_weights": "3,2,1", "size": "0"})
    assert set(e.value.fields) == {"size"}
