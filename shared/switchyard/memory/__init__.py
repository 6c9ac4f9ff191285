"""Conversation memory: with ``x-switchyard-conversation: <id>`` the gateway keeps the
conversation (per tenant, in the state table) and sends the remembered turns before each new
message, bounded by tokens (older turns dropped, or summarized by a cheap model).

- :mod:`~switchyard.memory.select` — which conversation a call continues.
- :mod:`~switchyard.memory.policy` — the settings of one call (config, persona).
- :mod:`~switchyard.memory.window` — which turns are sent and which are forgotten.
- :mod:`~switchyard.memory.summary` — the summary's request.
- :mod:`~switchyard.memory.turns` — messages as turns; a streamed answer put back together.
- :mod:`~switchyard.memory.service` — recall and remember over the store.

The stage is :mod:`switchyard.core.stages.memory`.
"""

from switchyard.memory.policy import MemoryPolicy, policy_for
from switchyard.memory.select import HEADER, conversation_of, valid_id, without_conversation
from switchyard.memory.service import ConversationMemory, Recalled, Summarize

__all__ = [
    "HEADER",
    "ConversationMemory",
    "MemoryPolicy",
    "Recalled",
    "Summarize",
    "conversation_of",
    "policy_for",
    "valid_id",
    "without_conversation",
]
