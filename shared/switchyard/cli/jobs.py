"""``switchyard jobs …``: submit a JSONL file of requests and collect the results, read, list and
cancel jobs, and move dead-lettered jobs back to the queue (``redrive``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from switchyard.config.settings import Settings

_FINAL = ("succeeded", "failed", "cancelled")


def register(subparsers: Any) -> None:
    jobs = subparsers.add_parser("jobs", help="async jobs: submit, get, list, cancel, redrive")
    sub = jobs.add_subparsers(dest="jobs_command", required=True)
    submit = sub.add_parser("submit", help="submit a JSONL file of requests, write results as JSONL")
    submit.add_argument(
        "file",
        type=Path,
        help="one request (or {'request': …, 'kind': …}) per line; kind 'messages': an Anthropic request, "
        "'embeddings': an embeddings request",
    )
    submit.add_argument("--out", type=Path, required=True, help="results, one JSON object per input line")
    submit.add_argument("--batch", type=int, default=100, help="jobs per POST /v1/jobs")
    submit.add_argument("--webhook-url", default=None)
    submit.add_argument("--idempotency-key", default=None, help="resubmitting the file gives the same jobs")
    submit.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")
    submit.set_defaults(func=run_submit)
    get = sub.add_parser("get", help="one job")
    get.add_argument("job_id")
    get.set_defaults(func=lambda a: _show(_call(a, "GET", f"/v1/jobs/{a.job_id}")))
    listing = sub.add_parser("list", help="your jobs, newest first")
    listing.add_argument("--status", choices=("queued", "running", *_FINAL))
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--after", default=None)
    listing.set_defaults(func=run_list)
    cancel = sub.add_parser("cancel", help="cancel a queued job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=lambda a: _show(_call(a, "DELETE", f"/v1/jobs/{a.job_id}")))
    for parser in (submit, get, listing, cancel):
        _add_connection(parser)
    redrive = sub.add_parser("redrive", help="move messages from the jobs DLQ back to the jobs queue")
    redrive.add_argument("--dlq-url", required=True)
    redrive.add_argument("--queue-url", required=True)
    redrive.add_argument("--endpoint-url", default=None, help="an emulated AWS endpoint (make run)")
    redrive.add_argument("--region", default="us-east-1")
    redrive.add_argument("--max", type=int, default=None, help="move at most this many")
    redrive.set_defaults(func=run_redrive)


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    parser.add_argument("--api-key", default=None, help="default: SWITCHYARD_MASTER_KEY")
    parser.add_argument("--timeout", type=float, default=30.0)


def _client(args: argparse.Namespace) -> httpx.Client:
    key = args.api_key
    if key is None:
        master = Settings.from_env().master_key
        key = master.get_secret_value() if master is not None else ""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=args.timeout)


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    with _client(args) as client:
        return _checked(client.request(method, path, **kwargs))


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        print(f"error {response.status_code}: {message}", file=sys.stderr)
        raise SystemExit(1)
    return response.json()


def _show(value: Any) -> int:
    print(json.dumps(value, indent=2, sort_keys=True))
    return 0


def run_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("status", args.status), ("limit", args.limit), ("after", args.after)) if v}
    return _show(_call(args, "GET", "/v1/jobs", params=params))


def read_specs(path: Path, webhook_url: str | None) -> list[dict[str, Any]]:
    """Each non-empty line: a request, or a job ({"request": …, "kind": …, "metadata": …}). A bare
    request may carry ``kind`` too ("messages": an Anthropic Messages request, "embeddings": an
    embeddings request; default "chat"),
    which is moved to the job: neither request dialect has such a field."""
    specs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if "request" in item:
            spec = item
        else:
            kind = item.pop("kind", None)
            spec = {"request": item} if kind is None else {"kind": kind, "request": item}
        spec.setdefault("metadata", {})["line"] = str(number)
        if webhook_url:
            spec.setdefault("webhook_url", webhook_url)
        specs.append(spec)
    return specs


def run_submit(args: argparse.Namespace) -> int:
    specs = read_specs(args.file, args.webhook_url)
    with _client(args) as client:
        ids: list[str] = []
        for index, start in enumerate(range(0, len(specs), args.batch)):
            headers = {"Idempotency-Key": f"{args.idempotency_key}-{index}"} if args.idempotency_key else {}
            answer = _checked(
                client.post("/v1/jobs", json={"jobs": specs[start : start + args.batch]}, headers=headers)
            )
            ids.extend(job["id"] for job in answer["data"])
        done = _wait(client, ids, args.poll)
    with args.out.open("w", encoding="utf-8") as out:
        for spec, job_id in zip(specs, ids, strict=True):
            job = done[job_id]
            line = {"line": int(spec["metadata"]["line"]), "id": job_id, "status": job["status"]}
            line.update({k: job[k] for k in ("result", "error") if k in job})
            out.write(json.dumps(line) + "\n")
    failed = sum(1 for job in done.values() if job["status"] != "succeeded")
    print(
        f"{len(ids) - failed} succeeded, {failed} failed or cancelled; results in {args.out}", file=sys.stderr
    )
    return 0 if failed == 0 else 1


def _wait(client: httpx.Client, ids: list[str], poll_s: float) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    while True:
        for job_id in ids:
            if job_id not in done:
                job = _checked(client.get(f"/v1/jobs/{job_id}"))
                if job["status"] in _FINAL:
                    done[job_id] = job
        progress(len(done), len(ids))
        if len(done) == len(ids):
            return done
        time.sleep(poll_s)


def progress(done: int, total: int, width: int = 30) -> None:
    """A plain-text bar on stderr, redrawn in place on a terminal, one line per update otherwise."""
    filled = width * done // max(total, 1)
    bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} jobs done"
    if sys.stderr.isatty():
        print(f"\r{bar}", end="\n" if done == total else "", file=sys.stderr, flush=True)
    else:
        print(bar, file=sys.stderr, flush=True)


def run_redrive(args: argparse.Namespace) -> int:
    """Receive from the DLQ, send to the queue, then delete from the DLQ (a crash in between sends a
    message twice, which the worker's idempotency absorbs; it never loses one)."""
    from switchyard.jobs.sqs import build_sqs_client

    sqs = build_sqs_client(region=args.region, endpoint_url=args.endpoint_url, timeout_s=25.0)
    moved = 0
    try:
        while args.max is None or moved < args.max:
            room = 10 if args.max is None else min(10, args.max - moved)
            answer = sqs.receive_message(QueueUrl=args.dlq_url, MaxNumberOfMessages=room, WaitTimeSeconds=1)
            messages = answer.get("Messages", [])
            if not messages:
                break
            entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
            sent = sqs.send_message_batch(QueueUrl=args.queue_url, Entries=entries)
            ok = {int(s["Id"]) for s in sent.get("Successful", [])}
            for i, message in enumerate(messages):
                if i in ok:
                    sqs.delete_message(QueueUrl=args.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                    moved += 1
    finally:
        sqs.close()
    print(f"redrove {moved} messages", file=sys.stderr)
    return 0
