"""``switchyard.http`` keeps FastAPI from importing ``pydantic.v1``: same answers, no import.

The patch replaces private FastAPI functions (``fastapi._compat.shared``); these tests fail when
FastAPI renames or stops using them, and when the router's start-up imports ``pydantic.v1`` again.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from fastapi import encoders
from fastapi._compat import shared

import switchyard.http  # noqa: F401  (installs the patch)
from switchyard.http import _pydantic_v1

ROOT = Path(__file__).resolve().parents[2]


def test_the_patched_functions_are_the_ones_fastapi_calls() -> None:
    assert shared.is_pydantic_v1_model_class is _pydantic_v1.is_v1_model_class
    assert shared.is_pydantic_v1_model_instance is _pydantic_v1.is_v1_model_instance
    assert encoders.is_pydantic_v1_model_instance is _pydantic_v1.is_v1_model_instance
    # annotation_is_pydantic_v1 (route declarations) looks the class check up in `shared` by name.
    assert "is_pydantic_v1_model_class" in shared.annotation_is_pydantic_v1.__code__.co_names


def test_v1_models_are_still_recognised_once_someone_imports_pydantic_v1() -> None:
    code = textwrap.dedent(
        """
        import warnings
        import switchyard.http
        from fastapi._compat import shared
        from fastapi.exceptions import PydanticV1NotSupportedError
        from fastapi.utils import create_model_field
        from pydantic import BaseModel

        class V2(BaseModel):
            a: int

        assert not shared.is_pydantic_v1_model_class(V2)
        assert not shared.is_pydantic_v1_model_instance(V2(a=1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pydantic import v1

        class V1(v1.BaseModel):
            a: int

        assert shared.is_pydantic_v1_model_class(V1)
        assert shared.annotation_is_pydantic_v1(list[V1])
        assert shared.is_pydantic_v1_model_instance(V1(a=1))
        try:
            create_model_field("x", V1)
        except PydanticV1NotSupportedError:
            pass
        else:
            raise AssertionError("a v1 response model was accepted")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_router_starts_and_answers_without_importing_pydantic_v1() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        sys.path.insert(0, "functions/router")
        import httpx
        import app

        async def main() -> None:
            application = app.create_app()
            async with application.router.lifespan_context(application):
                transport = httpx.ASGITransport(app=application)
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                    assert (await client.get("/health")).status_code == 200
                    assert (await client.get("/v1/models")).status_code == 401
                    assert (await client.post("/v1/chat/completions", json={})).status_code == 401

        asyncio.run(main())
        assert "pydantic.v1" not in sys.modules, "pydantic.v1 was imported"
        """
    )
    env = {"SWITCHYARD_MASTER_KEY": "sk-sy-test-master", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
