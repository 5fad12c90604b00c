"""The HTTP surface a collect worker serves beside the Tracking API: health and metrics, the
management API, the Profile API and their docs pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from seamline import __version__
from seamline.access.sessions import SignIn
from seamline.api.audit import install as install_audit
from seamline.api.audit import router as audit_router
from seamline.api.auth import install, permission_of, public
from seamline.api.console_pages import console_routes
from seamline.api.destinations import DestinationsAPI
from seamline.api.destinations import router as destinations_router
from seamline.api.docs_pages import docs_routes
from seamline.api.engage import router as engage_router
from seamline.api.identity_matches import MatchesAPI
from seamline.api.identity_matches import router as matches_router
from seamline.api.identity_rules import router as identity_rules_router
from seamline.api.json_body import JsonBodies
from seamline.api.live import LiveAPI
from seamline.api.live import router as live_router
from seamline.api.login import router as login_router
from seamline.api.login import session_principal
from seamline.api.messages import router as messages_router
from seamline.api.models import router as models_router
from seamline.api.overview import OverviewAPI
from seamline.api.overview import router as overview_router
from seamline.api.pii_view import PiiView
from seamline.api.profiles import ProfileAPI
from seamline.api.profiles import router as profile_router
from seamline.api.regulations import router as regulations_router
from seamline.api.retention import router as retention_router
from seamline.api.routes import json_http_error, json_seamline_error, json_validation_error, routes
from seamline.api.setup import router as setup_router
from seamline.api.sources import router as sources_router
from seamline.api.users import AccessAPI
from seamline.api.users import router as access_router
from seamline.api.webhook_sources import router as webhook_sources_router
from seamline.api.workspace import WorkspaceAPI
from seamline.api.workspace import router as workspace_router
from seamline.collect.client_ip import ClientAddress
from seamline.errors import SeamlineError
from seamline.ops.destinations import DestinationOps
from seamline.ops.engage import EngageOps
from seamline.ops.identity_rules import IdentityRulesOps
from seamline.ops.live_tail import tail_source
from seamline.ops.sources import SourceOps
from seamline.protocols.records import HeldMessage
from seamline.roles.identity_matching import matching_job
from seamline.roles.log_access import LogAccess
from seamline.roles.models import model_runner
from seamline.roles.parts import Parts
from seamline.store.retention_sql import SqlRetention
from seamline.store.users_sql import SqlUserStore


def http_app(
    parts: Parts,
    *,
    engage_ops: EngageOps,
    destination_ops: DestinationOps,
    rerun: Callable[[list[HeldMessage]], Awaitable[int]],
    ready: Callable[[], str | None],
    alive: Callable[[], str | None],
    refresh_metrics: Callable[[], None],
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]],
    logs: LogAccess,
) -> FastAPI:
    settings = parts.settings
    framework = FastAPI(
        title="Seamline",
        version=__version__,
        docs_url=None,  # served by docs_routes, without a CDN
        redoc_url=None,
        routes=routes(
            write_keys=parts.write_keys,
            metrics=parts.metrics,
            ready=ready,
            alive=alive,
            public_url=settings.public_url,
            refresh_metrics=refresh_metrics,
            metrics_token=settings.metrics_token.get_secret_value()
            if settings.metrics_token is not None
            else None,
        ),
        exception_handlers={
            HTTPException: json_http_error,
            SeamlineError: json_seamline_error,
            RequestValidationError: json_validation_error,
        },
        lifespan=lifespan,
    )
    # Who calls and what their roles allow (api/auth.py): a token, else a console session.
    sign_in = SignIn(SqlUserStore(parts.state))
    install(framework, parts.tokens, session_principal(sign_in))
    for route in framework.routes:
        if getattr(route, "path", None) == framework.openapi_url and permission_of(route) is None:
            public(route)  # the OpenAPI document describes the API, it holds no data
    # Routes record what they change (and profile reads) in the audit trail (api/audit.py).
    install_audit(framework, parts.audit, ClientAddress(settings.trusted_proxies))
    # Management API bodies are JSON even when curl -d or a client labels them otherwise.
    framework.add_middleware(JsonBodies)
    framework.router.routes.extend(docs_routes("/openapi.json", "Seamline"))
    framework.router.routes.extend(console_routes())  # the web console at / (api/console_pages.py)
    framework.include_router(login_router(sign_in, ClientAddress(settings.trusted_proxies)))
    # Callers without PII access see yellow and red fields masked (api/pii_view.py).
    pii = PiiView(parts.rules.get)
    framework.include_router(
        profile_router(
            ProfileAPI(
                graph=parts.identity,
                traits=parts.traits,
                accounts=parts.accounts,
                events=parts.events,
                tokens=parts.tokens,
                consent=parts.consent,
                engage=parts.engage_traits,
                pii=pii,
                # Which identifiers each event carries (its `external_ids`).
                identity_rules=parts.identity_rules_of,
            )
        )
    )
    # Before the workspace router: its generic `/api/v1/{kind}` would take `audiences`.
    framework.include_router(
        engage_router(
            engage_ops,
            parts.resources,
            parts.sealer,
            parts.rules.invalidate,
        )
    )
    # Before the workspace router too, for the same reason.
    framework.include_router(
        live_router(
            LiveAPI(
                open_source=lambda: tail_source(logs.erasable()),
                source_id_of=parts.source_id_of,
                pii=pii,
                max_streams=settings.live_max_streams,
            )
        )
    )
    framework.include_router(
        overview_router(
            OverviewAPI(
                state=parts.state,
                events=parts.events,
                outbox=parts.outbox,
                sources=lambda w: {s.id: s.name for s in parts.sources.list(w)},
                destinations=lambda w: sorted(parts.rules.get(w).destinations),
                log_state=logs.state,
            )
        )
    )
    framework.include_router(regulations_router(parts.regulation_ops))
    # Sources, users, tokens and the first-run owner (api/sources.py, users.py, setup.py).
    source_ops = SourceOps(parts.sources, parts.write_keys)
    framework.include_router(sources_router(source_ops, parts.events.query))
    framework.include_router(webhook_sources_router(source_ops, parts.webhooks.ops))
    access = AccessAPI(SqlUserStore(parts.state), parts.tokens, parts.sources, sign_in)
    framework.include_router(access_router(access))
    framework.include_router(setup_router(SqlUserStore(parts.state), sign_in))
    framework.include_router(retention_router(SqlRetention(parts.state)))
    framework.include_router(
        messages_router(
            parts.traces,
            pii,
            settings.trace_retention_hours,
        )
    )
    framework.include_router(audit_router(parts.audit))
    framework.include_router(models_router(model_runner(parts)))  # Reverse ETL runs
    # Matching review (api/identity_matches.py), before the workspace router's `{kind}` routes.
    framework.include_router(matches_router(MatchesAPI(parts.state, matching_job(parts), pii)))
    # Identity rules versions (api/identity_rules.py), before the workspace router too.
    framework.include_router(
        identity_rules_router(IdentityRulesOps(settings, parts.identity_rules_store))
    )
    framework.include_router(
        workspace_router(
            WorkspaceAPI(
                resources=parts.resources,
                protocols=parts.protocols,
                inventory=parts.inventory,
                tokens=parts.tokens,
                changed=parts.rules.invalidate,
                rerun=rerun,
                sealer=parts.sealer,
                allow_private=settings.destinations_allow_private,
                pii=pii,
            )
        )
    )
    framework.include_router(
        destinations_router(
            DestinationsAPI(
                destinations=lambda workspace_id: parts.rules.get(workspace_id).destinations,
                outbox=parts.outbox,
                replay=destination_ops.replay,
                test=destination_ops.test,
                check_authentication=destination_ops.check_authentication,
            ),
        )
    )
    return framework
