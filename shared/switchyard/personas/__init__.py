"""Personas: a tenant's named system prompts, with template variables, default model and
parameters, guardrail policies, memory and last-resort settings.

- :mod:`~switchyard.personas.select` — which persona a call names (header, metadata, model name).
- :mod:`~switchyard.personas.template` — the prompt's ``{{ variables }}``.
- :mod:`~switchyard.personas.apply` — a request as the persona sends it.
- :mod:`~switchyard.personas.service` — the personas through a warm cache; what a stored one must pass.
- :mod:`~switchyard.personas.wire` — the admin API's bodies to and from the stored records.

The stage that applies a persona to a call is :mod:`switchyard.core.stages.persona`.
"""

from switchyard.personas.apply import PARAMETERS, applied
from switchyard.personas.select import HEADER, MODEL_PREFIX, Chosen, chosen_persona
from switchyard.personas.service import Personas, problems

__all__ = [
    "HEADER",
    "MODEL_PREFIX",
    "PARAMETERS",
    "Chosen",
    "Personas",
    "applied",
    "chosen_persona",
    "problems",
]
