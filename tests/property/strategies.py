"""Hostile values, as hypothesis strategies: whatever a chat user, a platform or a broken fal
could hand falbot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

# Text with everything in it: control and format characters, surrogates' neighbours, RTL marks,
# digits from every script, very long runs.
any_text = st.text(st.characters(codec="utf-8"), max_size=300)
tricky_text = st.one_of(
    any_text,
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u200b\u200e\u202e",
            "²",
            "٣",
            "1e999999",
            "-0",
            "NaN",
            "inf",
            "-Infinity",
            "0x10",
            "1_000",
            "9" * 5000,
            "<@U123|ann>",
            "&lt;script&gt;",
            "--",
            "—model",
        ]
    ),
)

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.just(Decimal("-0")),
)

scalars = st.one_of(st.none(), st.booleans(), numbers, tricky_text)
json_like: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)
    ),
    max_leaves=12,
)
