"""Router Lambda: the ASGI application that uvicorn serves behind the Lambda Web Adapter.

``run.sh`` starts ``uvicorn --factory app:create_app``, so the application, its settings and its
clients are built once per cold start, when uvicorn calls the factory, and never on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app() -> FastAPI:
    # Imported here, not at module level, so importing this file (tests load it by path) has no
    # side effects and cannot fail on configuration.
    from switchyard.config.settings import RouterSettings
    from switchyard.http.app import create_app as create_switchyard_app

    return create_switchyard_app(RouterSettings.from_env())
