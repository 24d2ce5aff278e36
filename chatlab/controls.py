"""The names of the controls Chat Lab's messages point at, declared once.

An error's ``action`` says what to do next, and sometimes that is a control: "use
Continue", "raise Max tokens", "the Seed setting has no effect". The components label
those widgets with these constants and the core's messages quote the same ones, so a
renamed control renames the advice with it. The words belong to the UI; they live here
only because imports go downward (the core may not import ``components``).

What the core does not say: the kind of a widget (slider, button, expander) or a place a
page may not have (a model is picked in the sidebar on Chat, typed in a form on Compare).
"""

from __future__ import annotations

__all__ = [
    "API_KEY",
    "BASE_URL",
    "CONTINUE",
    "FREQUENCY_PENALTY",
    "MAX_TOKENS",
    "PRESENCE_PENALTY",
    "REASONING_EFFORT",
    "RETRY",
    "SEED",
    "STOP",
    "TEMPERATURE",
    "TOP_P",
]

RETRY = "Retry"
CONTINUE = "Continue"
API_KEY = "OpenAI API key"
BASE_URL = "Base URL"
TEMPERATURE = "Temperature"
MAX_TOKENS = "Max tokens"
TOP_P = "Top p"
SEED = "Seed"
STOP = "Stop sequences"
PRESENCE_PENALTY = "Presence penalty"
FREQUENCY_PENALTY = "Frequency penalty"
REASONING_EFFORT = "Reasoning effort"
