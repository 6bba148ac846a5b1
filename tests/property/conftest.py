"""Property tests run under the settings in `profiles` (derandomized unless asked otherwise)."""

import tests.property.profiles  # noqa: F401  (registers and loads the profile)
