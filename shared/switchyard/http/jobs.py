"""``/v1/jobs``: submit async jobs (202), read, list and cancel the caller's tenant's jobs.

Jobs belong to the tenant of the key that submitted them (``request.state.identity.tenant``):
every key of the tenant reads, lists and cancels them, another tenant's job id is answered 404,
exactly like an unknown one. Usage is charged to the submitting key.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from switchyard.errors import InvalidRequestError, NotFoundError
from switchyard.http.deps import gateway_of, require_client_key
from switchyard.http.errors import from_validation
from switchyard.jobs.schema import JOB_SPEC, KINDS, ChatJobSpec, JobBatch, MessagesJobSpec
from switchyard.jobs.service import JobsService, job_view
from switchyard.keys.auth import Identity
from switchyard.state.jobs import JobStatus

router = APIRouter(dependencies=[Depends(require_client_key)], tags=["jobs"])

_MAX_IDEMPOTENCY_KEY = 256


def _jobs(request: Request) -> JobsService:
    jobs = gateway_of(request).jobs
    assert jobs is not None  # the composition root always builds it
    return jobs


def _tenant(request: Request) -> str:
    identity: Identity = request.state.identity
    return identity.tenant


def _specs(raw: bytes) -> list[ChatJobSpec | MessagesJobSpec]:
    try:
        body: Any = json.loads(raw)
        if isinstance(body, dict) and "jobs" in body:
            return JobBatch.model_validate(body).specs()
        return [JOB_SPEC.validate_python(body)]
    except ValidationError as exc:
        raise from_validation(_without_kind_tags(exc)) from exc
    except ValueError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}.", code="invalid_json") from exc


def _without_kind_tags(exc: ValidationError) -> ValidationError:
    """The error with the union's tag ("chat", "messages") left out of its locations, so that
    ``param`` names the caller's own field (``jobs.1.request.max_tokens``)."""
    errors = exc.errors(include_url=False)
    for error in errors:
        loc = list(error["loc"])
        error["loc"] = tuple(
            p for i, p in enumerate(loc) if not (p in KINDS and (i == 0 or isinstance(loc[i - 1], int)))
        )
    return ValidationError.from_exception_data(exc.title, errors)  # type: ignore[arg-type]


@router.post("/v1/jobs", status_code=202)
async def submit_jobs(request: Request) -> JSONResponse:
    specs = _specs(await request.body())
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= _MAX_IDEMPOTENCY_KEY:
        raise InvalidRequestError("Idempotency-Key must be 1-256 characters", param="Idempotency-Key")
    records = await _jobs(request).submit(specs, request.state.key_id, _tenant(request), idempotency_key)
    return JSONResponse({"object": "list", "data": [job_view(r) for r in records]}, status_code=202)


@router.get("/v1/jobs")
async def list_jobs(
    request: Request,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> dict[str, Any]:
    page = await _jobs(request).list(_tenant(request), status=status, limit=limit, after=after)
    return {
        "object": "list",
        "data": [job_view(r) for r in page.jobs],
        "has_more": page.next_after is not None,
        "next_after": page.next_after,
    }


@router.get("/v1/jobs/webhook-secret")
async def jobs_webhook_secret(request: Request) -> dict[str, str]:
    """The caller's tenant's webhook signing secret, to verify deliveries with (declared before
    ``/v1/jobs/{job_id}``, which would otherwise take the path)."""
    return _secret(request)


@router.get("/v1/jobs/{job_id}")
async def get_job(request: Request, job_id: str) -> dict[str, Any]:
    record = await _jobs(request).get(_tenant(request), job_id)
    if record is None:
        raise NotFoundError(f"no job {job_id!r}", code="job_not_found")
    return job_view(record)


@router.delete("/v1/jobs/{job_id}")
async def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    cancelled, record = await _jobs(request).cancel(_tenant(request), job_id)
    if record is None:
        raise NotFoundError(f"no job {job_id!r}", code="job_not_found")
    if not cancelled:
        raise InvalidRequestError(
            f"job {job_id!r} is {record.status.value}; only queued jobs can be cancelled",
            code="job_not_cancellable",
        )
    return job_view(record)


@router.get("/v1/webhooks/secret")
async def webhook_secret(request: Request) -> dict[str, str]:
    """The same as ``/v1/jobs/webhook-secret`` (its first name)."""
    return _secret(request)


def _secret(request: Request) -> dict[str, str]:
    tenant = _tenant(request)
    return {
        "object": "webhook_secret",
        "tenant": tenant,
        "secret": _jobs(request).webhooks.secret_for(tenant),
    }
