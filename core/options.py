"""Options as users type them: `--count`, not fal's `num_images`; their ranges, in words."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

# A schema field → the option users type for it (Slack and the console with `--`, Discord
# without: its renderer drops the dashes).
SHOWN = {
    "num_images": "count",
    "aspect_ratio": "aspect",
    "generate_audio": "audio",
    "input_fidelity": "fidelity",
}
# Not options a person types: the command's text, and the mask a region edit's page sends.
_HIDDEN = frozenset({"prompt", "mask_url"})


def option(field: str) -> str:
    """`` `--count` `` for `num_images`: core's markup for an option the user types."""
    return f"`--{SHOWN.get(field, field).replace('_', '-')}`"


def ranges(model: type[BaseModel]) -> dict[str, str]:
    """Each option of an input model and the values it takes: `{"count": "1–4", …}`."""
    found = {}
    for field, schema in model.model_json_schema().get("properties", {}).items():
        if field in _HIDDEN:
            continue
        found[SHOWN.get(field, field).replace("_", "-")] = _values(schema)
    return found


def _values(schema: dict[str, Any]) -> str:
    choices = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    one = choices[0] if choices else schema
    if "enum" in one:
        return "|".join(str(v) for v in one["enum"])
    if one.get("type") == "boolean":
        return "(on or off)"
    if "minimum" in one and "maximum" in one:
        return f"{one['minimum']}–{one['maximum']}"
    if one.get("type") == "string":
        return "(text)"
    return f"({one.get('type', 'any')})"


def explain(model_name: str, model: type[BaseModel], exc: ValidationError) -> str:
    """What was wrong, naming each option as the user typed it and what it takes."""
    allowed = ranges(model)
    problems = []
    for err in exc.errors()[:3]:
        field = str(err["loc"][0]) if err["loc"] else ""
        name = option(field) if field else "the input"
        takes = allowed.get(SHOWN.get(field, field).replace("_", "-"))
        if err["type"] == "extra_forbidden":
            problems.append(f"{model_name} has no option {name}")
        elif field == "prompt":
            missing = err["type"] == "missing"
            msg = "is missing" if missing else str(err["msg"]).removeprefix("Value error, ")
            problems.append(msg if msg.startswith("the prompt") else f"the prompt {msg}")
        elif err["type"] == "missing":
            problems.append(f"{name} is required")
        elif takes:
            problems.append(f"{name} must be {takes}, not `{str(err.get('input'))[:20]}`")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {msg}")
    text = "; ".join(problems) + "."
    return text[:1].upper() + text[1:]
