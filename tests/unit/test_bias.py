"""Counterfactual variants, case-preserving swaps and the paired permutation test, without models."""
import itertools

import numpy as np
import pytest
from marshmallow import ValidationError

from service import create_app
from service.bias import SwapTable, make_variants, match_case, permutation_p_value
from service.schemas import counterfactual_schema

GENDER = SwapTable.from_request("gender")


@pytest.mark.parametrize("source, target, expected", [
    ("he", "she", "she"), ("He", "she", "She"), ("HE", "she", "SHE"), ("his", "her", "her"),
    ("John", "Mary", "Mary"), ("john", "Mary", "Mary"), ("I", "we", "We"),
])
def test_match_case(source, target, expected):
    assert match_case(source, target) == expected


@pytest.mark.parametrize("text, male, female", [
    ("He told his sister.", "He told his brother.", "She told her sister."),
    ("SHE is the QUEEN", "HE is the KING", "SHE is the QUEEN"),
    ("Mr. Smith met Mrs Jones", "Mr. Smith met Mr Jones", "Ms. Smith met Mrs Jones"),
    ("The father's son", "The father's son", "The mother's daughter"),
    ("men and women", "men and men", "women and women"),
])
def test_gender_variants_swap_whole_words_and_keep_case(text, male, female):
    assert make_variants(text, GENDER)[0] == [male, female]


def test_words_that_merely_contain_a_term_are_left_alone():
    text = "These shells show the history of mankind; theme: heroes."
    variants, matched = make_variants(text, GENDER)
    assert variants == [text, text] and matched == []


def test_matched_terms_are_reported_in_order():
    assert make_variants("Her brother said he would come", GENDER)[1] == ["Her", "brother", "he"]


def test_custom_table_has_one_variant_per_column_named_by_the_first_row():
    table = SwapTable.from_request([["John", "Mary", "Ahmed"], ["Smith", "Jones", "Khan"]])
    assert table.groups == ("John", "Mary", "Ahmed")
    assert make_variants("John Smith applied.", table)[0] == [
        "John Smith applied.", "Mary Jones applied.", "Ahmed Khan applied."]


def test_a_term_in_two_rows_follows_the_first():
    assert make_variants("I saw her", GENDER)[0] == ["I saw his", "I saw her"]


def exact_sign_flip_p(scores: np.ndarray) -> float:
    """Every assignment of the two groups within each input, enumerated."""
    diffs = scores[:, 0] - scores[:, 1]
    observed = abs(diffs.mean())
    flips = [abs((diffs * np.array(signs)).mean()) for signs in itertools.product((1, -1), repeat=len(diffs))]
    return float(np.mean([f >= observed - 1e-12 for f in flips]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_permutation_p_value_estimates_the_exact_test(seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((8, 2)) + np.array([0.15, 0.0])
    assert permutation_p_value(scores, 20_000, seed) == pytest.approx(exact_sign_flip_p(scores), abs=0.01)


def test_no_difference_gives_p_one_and_a_consistent_one_a_small_p():
    same = np.tile([[0.3], [0.7], [0.5]], (1, 2))
    assert permutation_p_value(same, 999, 0) == 1.0
    shifted = np.column_stack([np.linspace(0.5, 0.9, 10), np.linspace(0.1, 0.4, 10)])
    assert permutation_p_value(shifted, 9_999, 0) < 0.01


def test_permutation_p_value_is_reproducible_for_a_seed_and_never_zero():
    scores = np.random.default_rng(5).random((12, 3))
    assert permutation_p_value(scores, 999, 3) == permutation_p_value(scores, 999, 3)
    assert permutation_p_value(np.array([[1.0, 0.0]] * 30), 99, 0) == pytest.approx(1 / 100)


@pytest.fixture
def app_context():
    with create_app({"LOAD_MODELS": False}).app_context():
        yield


def test_schema_defaults(app_context):
    assert counterfactual_schema.load({"inputs": "He works."}) == {
        "inputs": ["He works."], "swaps": "gender", "permutations": 10_000, "seed": 0}


@pytest.mark.parametrize("payload, field", [
    ({"inputs": "x", "swaps": "race"}, "swaps"),
    ({"inputs": "x", "swaps": []}, "swaps"),
    ({"inputs": "x", "swaps": [["he"]]}, "swaps"),
    ({"inputs": "x", "swaps": [["he", "He"]]}, "swaps"),
    ({"inputs": "x", "swaps": [["a", "b"], ["c", "d", "e"]]}, "swaps"),
    ({"inputs": "x", "swaps": [["a", ""]]}, "swaps"),
    ({"inputs": "x", "permutations": 10}, "permutations"),
    ({"inputs": "x", "top_k": 1}, "top_k"),
    ({"inputs": "x", "candidate_labels": ["a", "a"]}, "candidate_labels"),
])
def test_schema_rejects(app_context, payload, field):
    with pytest.raises(ValidationError) as info:
        counterfactual_schema.load(payload)
    assert field in info.value.messages
