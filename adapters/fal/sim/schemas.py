"""The few enum fields the simulator checks the way fal's schema does (a 422 naming the field).

Only fields falbot sends whose values fal restricts and whose wrong value would change what fal
runs or bills: GPT Image 1.5 edit's `input_fidelity` (fal's default is high), `quality` and
`image_size`, as fal's model page lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.fal.sim.faults import Fault
from adapters.fal.sim.outputs import InputError

ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "fal-ai/gpt-image-1.5/edit": {
        "input_fidelity": ("low", "high"),
        "quality": ("low", "medium", "high"),
        "image_size": ("auto", "1024x1024", "1536x1024", "1024x1536"),
    },
}


def check_enums(endpoint: str, arguments: Mapping[str, Any]) -> None:
    """InputError (fal's 422, `type: "enum"`) for an enum field sent with another value."""
    for name, allowed in ENUMS.get(endpoint, {}).items():
        if name in arguments and arguments[name] not in allowed:
            expected = ", ".join(f"'{v}'" for v in allowed)
            raise InputError(
                Fault.validation(f"Input should be {expected}", loc=("body", name), type="enum")
            )


__all__ = ["ENUMS", "check_enums"]
