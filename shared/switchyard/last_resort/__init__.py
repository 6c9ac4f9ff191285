"""The last resort: when every candidate has failed, an answer instead of the error — a cached
answer kept past its TTL (stale-if-error), or a configured template — marked
``x-switchyard-fallback``, never charged. Off unless configured, per model and per persona.

The stage that gives it is :mod:`switchyard.core.stages.last_resort`.
"""

from switchyard.last_resort.rules import HEADER, Rule, declined, rule_for, template_answer

__all__ = ["HEADER", "Rule", "declined", "rule_for", "template_answer"]
