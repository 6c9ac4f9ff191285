"""What ``make run`` prints once it serves: where it listens, the key to use, what answers for
which provider, where state and metrics live, and a request to try."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from switchyard.config.local import LocalSettings
from switchyard.config.settings import PROVIDER_KEY_ENV

_INDENT = " " * 18
_WIDTH = 100


@dataclass(frozen=True)
class Facts:
    """What the runtime learned while starting, beyond its settings."""

    budget: str = "no cost alarms"
    standins: str = ""  # terminal.describe_standins(); empty: no stand-ins (mock_unconfigured off)
    saved_to: Path | None = None  # where state is saved; None: not saved
    restored: str = ""  # the snapshot's summary ("new", "restored …")
    metrics: Path | None = None  # the EMF file; None: EMF lines go to the terminal


def banner(settings: LocalSettings, facts: Facts) -> str:
    assert settings.master_key is not None
    key = settings.master_key.get_secret_value()
    real = [name for name in PROVIDER_KEY_ENV if name in settings.environment]
    url = f"http://{settings.host}:{settings.port}"
    # The key is printed on purpose: this is the operator's own terminal, and the only way to use
    # a generated key. It never goes to a log.
    lines = [
        f"Switchyard listening on {url}",
        f"  API key:        {key}",
        f"  provider keys:  {', '.join(real) if real else 'none set'}",
    ]
    if facts.standins:
        lines += textwrap.wrap(
            f"the mock answers for {facts.standins} (its answers carry x-switchyard-stand-in: "
            "<provider>; set a key for the real one)",
            width=_WIDTH,
            initial_indent="  stand-ins:      ",
            subsequent_indent=_INDENT,
            break_on_hyphens=False,
        )
    lines += [
        f"  config:         {settings.config_path}",
        f"  state:          {_state_line(settings)}",
        *_saved_lines(facts),
        f"  jobs:           {_jobs_line(settings)}",
        f"  budget:         {facts.budget}",
        f"  metrics:        {_metrics_line(facts)}",
        "  try:",
        f"    curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
        "-H 'Content-Type: application/json' "
        """-d '{"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}'""",
        f"    curl -s {url}/v1/embeddings -H 'Authorization: Bearer {key}' "
        "-H 'Content-Type: application/json' "
        """-d '{"model": "text-embedding-3-small", "input": "Hello", "dimensions": 4}'""",
        "",
    ]
    return "\n".join(lines)


def _state_line(settings: LocalSettings) -> str:
    if not settings.state_table:
        return "in memory (this process only: lost when it stops)"
    where = f"emulated at {settings.aws_endpoint_url}" if settings.aws_endpoint_url else settings.aws_region
    return f"DynamoDB table {settings.state_table} ({where})"


def _saved_lines(facts: Facts) -> list[str]:
    if facts.saved_to is None:
        return []
    return [
        f"{_INDENT}saved in {facts.saved_to.parent} every second and at exit: {facts.restored}",
        f"{_INDENT}(`make reset` starts clean)",
    ]


def _jobs_line(settings: LocalSettings) -> str:
    if not settings.jobs_queue_url:
        return "no queue: POST /v1/jobs accepts jobs, nothing runs them"
    return f"worker polling {settings.jobs_queue_url}"


def _metrics_line(facts: Facts) -> str:
    if facts.metrics is None:
        return "EMF lines printed here"
    return f"EMF lines in {facts.metrics} (SWITCHYARD_LOCAL_METRICS=stdout prints them here)"
