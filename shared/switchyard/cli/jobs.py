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

from switchyard.cli.admin_client import (
    Connection,
    add_connection,
    add_json,
    call,
    connection,
    open_client,
    send,
)
from switchyard.cli.aws import aws_errors
from switchyard.cli.commands import command
from switchyard.cli.output import console, fields, iso, mapping, print_json, table

_FINAL = ("succeeded", "failed", "cancelled")


def register(subparsers: Any) -> None:
    jobs = command(
        subparsers,
        "jobs",
        "async jobs: submit, get, list, cancel, redrive",
        ["switchyard jobs submit requests.jsonl --out results.jsonl", "switchyard jobs list --status failed"],
    )
    sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    submit = command(
        sub,
        "submit",
        "submit a JSONL file of requests, wait, and write the results as JSONL",
        [
            "switchyard jobs submit requests.jsonl --out results.jsonl",
            "switchyard jobs submit requests.jsonl --out results.jsonl --idempotency-key nightly-2027-01-31",
        ],
    )
    submit.add_argument(
        "file",
        type=Path,
        help="one request (or {'request': …, 'kind': …}) per line; kind 'messages': an Anthropic request",
    )
    submit.add_argument("--out", type=Path, required=True, help="results, one JSON object per input line")
    submit.add_argument("--batch", type=int, default=100, help="jobs per POST /v1/jobs")
    submit.add_argument("--webhook-url", default=None)
    submit.add_argument("--idempotency-key", default=None, help="resubmitting the file gives the same jobs")
    submit.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")
    submit.set_defaults(func=run_submit)
    get = command(
        sub,
        "get",
        "one job: status, times, result or error",
        ["switchyard jobs get job_018f2a9c4b1e7d2f9a0c3b4d"],
    )
    get.add_argument("job_id")
    get.set_defaults(func=lambda a: _print_job(a, _call(a, "GET", f"/v1/jobs/{a.job_id}")))
    listing = command(
        sub,
        "list",
        "your tenant's jobs, newest first",
        ["switchyard jobs list", "switchyard jobs list --status failed"],
    )
    listing.add_argument("--status", choices=("queued", "running", *_FINAL))
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--after", default=None, help="the next page: the next_after of the last one")
    listing.set_defaults(func=run_list)
    cancel = command(
        sub, "cancel", "cancel a queued job", ["switchyard jobs cancel job_018f2a9c4b1e7d2f9a0c3b4d"]
    )
    cancel.add_argument("job_id")
    cancel.set_defaults(func=lambda a: _print_job(a, _call(a, "DELETE", f"/v1/jobs/{a.job_id}"), "cancelled"))
    for parser in (submit, get, listing, cancel):
        add_connection(parser, key_flag="--api-key")
        parser.set_defaults(timeout=30.0)
    redrive = command(
        sub,
        "redrive",
        "move messages from the jobs DLQ back to the jobs queue",
        ["switchyard jobs redrive --dlq-url $JOBS_DLQ_URL --queue-url $JOBS_QUEUE_URL"],
    )
    redrive.add_argument("--dlq-url", required=True)
    redrive.add_argument("--queue-url", required=True)
    redrive.add_argument("--endpoint-url", default=None, help="an emulated AWS endpoint (make run)")
    redrive.add_argument("--region", default="us-east-1")
    redrive.add_argument("--max", type=int, default=None, help="move at most this many")
    add_json(redrive)
    redrive.set_defaults(func=run_redrive)


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    return call(args, method, path, **kwargs)


def _print_job(args: argparse.Namespace, job: dict[str, Any], verb: str | None = None) -> int:
    if args.json:
        print_json(job)
        return 0
    rows = [
        ("job", job["id"]),
        ("kind", job["kind"]),
        ("status", job["status"]),
        ("created", iso(job["created_at"])),
        ("updated", iso(job["updated_at"])),
        ("kept until", iso(job["expires_at"])),
        ("metadata", mapping(job.get("metadata") or {})),
    ]
    if "error" in job:
        rows.append(("error", _error_line(job["error"])))
    if "result" in job:
        rows.append(("result", _result_line(job["result"])))
    console().print(fields(f"{verb} {job['id']}" if verb else job["id"], rows))
    return 0


def _error_line(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('code') or error.get('type') or 'error'}: {error.get('message', '')}"
    return str(error)


def _result_line(result: Any) -> str:
    """The answer's model, text (its start) and tokens, from a chat completion or a message."""
    if not isinstance(result, dict):
        return str(result)
    if "choices" in result:
        message = (result.get("choices") or [{}])[0].get("message") or {}
        text, usage = message.get("content") or "", result.get("usage") or {}
        tokens = f"{usage.get('prompt_tokens', '?')} in, {usage.get('completion_tokens', '?')} out"
    else:
        blocks = result.get("content") or []
        text = " ".join(b.get("text", "") for b in blocks if isinstance(b, dict))
        usage = result.get("usage") or {}
        tokens = f"{usage.get('input_tokens', '?')} in, {usage.get('output_tokens', '?')} out"
    short = text if len(text) <= 200 else text[:200] + "…"
    return f"{result.get('model', '?')} ({tokens}): {short}"


def run_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("status", args.status), ("limit", args.limit), ("after", args.after)) if v}
    page = _call(args, "GET", "/v1/jobs", params=params)
    if args.json:
        print_json(page)
        return 0
    columns = ("JOB", "KIND", "STATUS", "CREATED", "UPDATED", "ERROR")
    rows = [
        (
            j["id"],
            j["kind"],
            j["status"],
            iso(j["created_at"]),
            iso(j["updated_at"]),
            _error_line(j["error"]) if "error" in j else "",
        )
        for j in page["data"]
    ]
    out = console()
    out.print(table("jobs", columns, rows) if rows else "no jobs")
    if page.get("has_more"):
        out.print(f"more: switchyard jobs list --after {page['next_after']}")
    return 0


def read_specs(path: Path, webhook_url: str | None) -> list[dict[str, Any]]:
    """Each non-empty line: a request, or a job ({"request": …, "kind": …, "metadata": …}). A bare
    request may carry ``kind`` too ("messages": an Anthropic Messages request; default "chat"),
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
    conn = connection(args)
    with open_client(conn) as client:
        ids: list[str] = []
        for index, start in enumerate(range(0, len(specs), args.batch)):
            headers = {"Idempotency-Key": f"{args.idempotency_key}-{index}"} if args.idempotency_key else {}
            body = {"jobs": specs[start : start + args.batch]}
            answer = send(client, conn, "POST", "/v1/jobs", json=body, headers=headers)
            ids.extend(job["id"] for job in answer["data"])
        done = _wait(client, conn, ids, args.poll)
    with args.out.open("w", encoding="utf-8") as out:
        for spec, job_id in zip(specs, ids, strict=True):
            job = done[job_id]
            line = {"line": int(spec["metadata"]["line"]), "id": job_id, "status": job["status"]}
            line.update({k: job[k] for k in ("result", "error") if k in job})
            out.write(json.dumps(line) + "\n")
    failed = sum(1 for job in done.values() if job["status"] != "succeeded")
    summary = {
        "jobs": len(ids),
        "succeeded": len(ids) - failed,
        "failed_or_cancelled": failed,
        "out": str(args.out),
    }
    if args.json:
        print_json(summary)
    else:
        console().print(f"{len(ids) - failed} succeeded, {failed} failed or cancelled; results in {args.out}")
    return 0 if failed == 0 else 1


def _wait(client: httpx.Client, conn: Connection, ids: list[str], poll_s: float) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    while True:
        for job_id in ids:
            if job_id not in done:
                job = send(client, conn, "GET", f"/v1/jobs/{job_id}")
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
        with aws_errors("moving jobs from the DLQ"):
            while args.max is None or moved < args.max:
                batch = _redrive_batch(sqs, args, 10 if args.max is None else min(10, args.max - moved))
                if batch is None:
                    break
                moved += batch
    finally:
        sqs.close()
    if args.json:
        print_json({"moved": moved})
    else:
        console().print(f"moved {moved} messages from the DLQ back to the jobs queue")
    return 0


def _redrive_batch(sqs: Any, args: argparse.Namespace, room: int) -> int | None:
    """Moves up to ``room`` messages; how many, or None when the DLQ had none."""
    answer = sqs.receive_message(QueueUrl=args.dlq_url, MaxNumberOfMessages=room, WaitTimeSeconds=1)
    messages = answer.get("Messages", [])
    if not messages:
        return None
    entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
    sent = sqs.send_message_batch(QueueUrl=args.queue_url, Entries=entries)
    ok = {int(s["Id"]) for s in sent.get("Successful", [])}
    for i, message in enumerate(messages):
        if i in ok:
            sqs.delete_message(QueueUrl=args.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return len(ok)
