"""The request that folds forgotten turns into a conversation's summary, and its answer."""

from __future__ import annotations

from collections.abc import Sequence

from switchyard.api.chat import ChatCompletion, ChatRequest, Message, TextPart

_INSTRUCTIONS = (
    "You keep the memory of a conversation between a user and an assistant. Rewrite the summary "
    "so far together with the turns below into one concise summary, at most {words} words: keep "
    "names, facts, numbers, decisions, preferences and open questions; drop pleasantries. Answer "
    "with the summary only."
)
SUMMARY_PREFIX = "Summary of the earlier conversation: "


def summary_request(model: str, previous: str, turns: Sequence[Message], max_tokens: int) -> ChatRequest:
    transcript = "\n".join(f"{m.role}: {_text(m)}" for m in turns)
    earlier = previous or "(none yet)"
    return ChatRequest(
        model=model,
        messages=[
            Message(role="system", content=_INSTRUCTIONS.format(words=max(10, max_tokens * 3 // 4))),
            Message(role="user", content=f"Summary so far:\n{earlier}\n\nTurns to add:\n{transcript}"),
        ],
        max_tokens=max_tokens,
        temperature=0,
    )


def summary_text(completion: ChatCompletion) -> str:
    return (completion.choices[0].message.content or "").strip() if completion.choices else ""


def summary_message(summary: str) -> Message:
    return Message(role="system", content=SUMMARY_PREFIX + summary)


def _text(message: Message) -> str:
    content = message.content
    if isinstance(content, str):
        text = content
    elif content:
        text = " ".join(p.text for p in content if isinstance(p, TextPart))
    else:
        text = ""
    calls = [f"[called {c.function.name}({c.function.arguments})]" for c in message.tool_calls or ()]
    return " ".join([text, *calls]).strip()
