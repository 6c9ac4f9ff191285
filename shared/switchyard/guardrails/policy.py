"""One guardrail policy, compiled once per cold start, and its input checks.

Input checks run in a fixed order, cheapest first: ``shape`` (size and shape of the request),
``blocklist`` (on the text as the caller sent it), ``pii`` (block, or redact into the call's
placeholders, or log); moderation comes last, on the redacted text, in the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.accounting.estimate import estimate_usage
from switchyard.api.embeddings import EmbeddingRequest
from switchyard.api.requests import CanonicalRequest
from switchyard.config.guardrails import GuardrailPolicy, PiiAction
from switchyard.errors import ContentBlockedError
from switchyard.guardrails.blocklist import Blocklist
from switchyard.guardrails.pii import PiiDetector
from switchyard.guardrails.redact import Redactions
from switchyard.guardrails.scan import Rule, block
from switchyard.guardrails.tally import BLOCKED, LOGGED, REDACTED, Tally
from switchyard.guardrails.texts import request_texts, rewrite_request


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    config: GuardrailPolicy
    pii: PiiDetector | None
    blocklist: Blocklist | None

    @classmethod
    def compile(cls, name: str, config: GuardrailPolicy) -> Policy:
        pii = PiiDetector(config.pii.entities) if config.pii is not None else None
        blocklist = Blocklist(config.blocklist) if config.blocklist is not None else None
        return cls(name, config, pii, blocklist)

    def check_input(
        self, request: CanonicalRequest, redactions: Redactions, tally: Tally
    ) -> CanonicalRequest:
        """The request with this policy's redactions. Raises ContentBlockedError."""
        self._check_shape(request, tally)
        if self.blocklist is not None and "input" in self._blocklist_directions:
            for text in request_texts(request):
                found = self.blocklist.find(text)
                if found:
                    self._block(found[0].rule, tally)
        if self.pii is not None and "input" in self._pii_directions:
            request = self._redact(request, redactions, tally)
        return request

    def output_rules(self) -> list[Rule]:
        rules: list[Rule] = []
        pii, blocklist = self.pii, self.blocklist
        if pii is not None and "output" in self._pii_directions:
            rules.append(Rule(self.name, pii.find, self._pii_action, pii.window))
        if blocklist is not None and "output" in self._blocklist_directions:
            rules.append(Rule(self.name, blocklist.find, block, blocklist.window))
        return rules

    @property
    def _pii_directions(self) -> tuple[str, ...]:
        return self.config.pii.apply_to if self.config.pii is not None else ()

    @property
    def _blocklist_directions(self) -> tuple[str, ...]:
        return self.config.blocklist.apply_to if self.config.blocklist is not None else ()

    def _pii_action(self, rule: str) -> PiiAction:
        assert self.config.pii is not None
        return self.config.pii.entities[rule.removeprefix("pii.")]  # type: ignore[index]

    def _block(self, rule: str, tally: Tally) -> None:
        tally.add(self.name, BLOCKED, rule)
        raise ContentBlockedError(self.name, rule, "input")

    def _check_shape(self, request: CanonicalRequest, tally: Tally) -> None:
        shape = self.config.shape
        if shape is None:
            return
        limit = shape.max_prompt_tokens
        if limit is not None and estimate_usage(request, 0).prompt_tokens > limit:
            self._block("shape.max_prompt_tokens", tally)
        if isinstance(request, EmbeddingRequest):  # no messages, roles or tools to check
            return
        if shape.max_messages is not None and len(request.messages) > shape.max_messages:
            self._block("shape.max_messages", tally)
        if shape.forbidden_roles and any(m.role in shape.forbidden_roles for m in request.messages):
            self._block("shape.forbidden_role", tally)
        tools = {t.function.name for t in request.tools or ()}
        if tools.intersection(shape.forbidden_tools):
            self._block("shape.forbidden_tool", tally)

    def _redact(self, request: CanonicalRequest, redactions: Redactions, tally: Tally) -> CanonicalRequest:
        assert self.pii is not None and self.config.pii is not None
        detector, restore = self.pii, self.config.pii.restore

        def rewrite(text: str) -> str:
            found = detector.find(text)
            if not found:
                return text
            for m in found:
                if self._pii_action(m.rule) == "block":
                    self._block(m.rule, tally)
            pieces, cursor = [], 0
            for m in found:
                if self._pii_action(m.rule) == "log":
                    tally.add(self.name, LOGGED, m.rule)
                    continue
                value = text[m.start : m.end]
                pieces += [text[cursor : m.start], redactions.placeholder(m.rule, value, restore=restore)]
                cursor = m.end
                tally.add(self.name, REDACTED, m.rule)
            pieces.append(text[cursor:])
            return "".join(pieces)

        return rewrite_request(request, rewrite)
