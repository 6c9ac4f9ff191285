"""Guardrails: named policies of checks a request and its answer must pass.

- :mod:`~switchyard.guardrails.pii` — personal data and secrets (validated: Luhn, IBAN, SSN rules).
- :mod:`~switchyard.guardrails.blocklist` — words, phrases and regular expressions.
- :mod:`~switchyard.guardrails.policy` — one compiled policy and its input checks (shape, blocklist, pii).
- :mod:`~switchyard.guardrails.moderation` — a provider's moderation endpoint, routed with failover.
- :mod:`~switchyard.guardrails.redact` — typed placeholders and putting values back.
- :mod:`~switchyard.guardrails.scan`, :mod:`~switchyard.guardrails.stream` — output checks on a
  stream as it passes, holding back only the window a rule needs.
- :mod:`~switchyard.guardrails.service` — which policies a call must pass, and running them.

The stages that run them are in :mod:`switchyard.core.stages.guardrails`; docs/guardrails.md is
the configuration reference.
"""

from switchyard.guardrails.moderation import Moderation
from switchyard.guardrails.redact import Redactions, Restorer
from switchyard.guardrails.service import Guarded, Guardrails, OutputChecks
from switchyard.guardrails.stream import Filtered
from switchyard.guardrails.tally import HEADER, POLICIES_HEADER, Tally, header_value

__all__ = [
    "HEADER",
    "POLICIES_HEADER",
    "Filtered",
    "Guarded",
    "Guardrails",
    "Moderation",
    "OutputChecks",
    "Redactions",
    "Restorer",
    "Tally",
    "header_value",
]
