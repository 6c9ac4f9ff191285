"""AWS for the CLI's commands that call it directly (provider keys, the jobs DLQ): the region and
clients, and every failure of botocore as one line that says what to do (never a traceback)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from switchyard.cli.admin_client import CliError
from switchyard.config.local import CliSettings

TIMEOUT_S = 10.0


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", default=None, help="the stack's region (default: AWS_REGION, then your profile's)"
    )
    parser.add_argument("--endpoint-url", default=None, help="only for a local emulation (moto)")


def region(args: argparse.Namespace) -> str | None:
    """``--region``, else AWS_REGION / AWS_DEFAULT_REGION, else None (boto3 then reads the profile)."""
    if args.region:
        return str(args.region)
    settings = CliSettings.from_env()
    return settings.aws_region if "aws_region" in settings.model_fields_set else None


def client(service: str, args: argparse.Namespace) -> Any:
    """A boto3 client with timeouts and bounded retries. Raises CliError (no region)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    config = Config(
        connect_timeout=TIMEOUT_S,
        read_timeout=TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    try:
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            region_name=region(args),
            endpoint_url=args.endpoint_url,
            config=config,
        )
    except NoRegionError as exc:
        raise CliError(_NO_REGION, code=2) from exc


_NO_REGION = "no AWS region: pass --region (the stack's region) or set AWS_REGION"
_NO_CREDENTIALS = (
    "no AWS credentials: run `aws configure` (or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY) for the account the stack is deployed in"
)


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turns botocore's exceptions inside into a CliError naming ``what`` was being done."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise CliError(_NO_CREDENTIALS, code=2) from exc
    except NoRegionError as exc:
        raise CliError(_NO_REGION, code=2) from exc
    except EndpointConnectionError as exc:
        raise CliError(f"{what}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}", code=2) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CliError(
            f"{what}: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        ) from exc
    except BotoCoreError as exc:
        raise CliError(f"{what}: {exc}", code=2) from exc


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
