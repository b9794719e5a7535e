"""The marketplace API, ``/api/v1/``: orders in, disputes out, webhooks and sign-in links.

Every operation authenticates an API key (``Authorization: Bearer dpk_...``), is limited
per key (429 with ``Retry-After``), answers errors as ``application/problem+json``, and
every POST honours ``Idempotency-Key``. Writes go through the services the pages use."""

import base64
import json
import logging
import threading
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from ninja import NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from api import selectors, services
from api.idempotency import idempotent
from api.keys import api_key_authenticate
from api.models import ApiKey, ExternalOrder, WebhookEndpoint
from api.problems import Problem, problem_response
from api.schemas import (
    MAX_ID,
    BatchOut,
    DisputeListOut,
    DisputeOut,
    EventFeedOut,
    OrderBatchIn,
    OrderIn,
    OrderOut,
    ProblemOut,
    RefundOut,
    RefundReportIn,
    RowId,
    ShipmentIn,
    SignInLinkIn,
    SignInLinkOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
)
from api.webhooks import UnsafeDestination, webhook_endpoint_rotate
from orders.models import Order
from orders.services import LineSpec
from refunds.services import RefundError, refund_report_outcome

logger = logging.getLogger(__name__)


class KeyAuth(HttpBearer):
    openapi_description = "An API key made in the portal's admin: `Authorization: Bearer dpk_…`"

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return api_key_authenticate(token)


class KeyThrottle(BaseThrottle):
    """``PORTAL_API_RATE`` requests per key per window ("1200/m"): a fixed-window counter
    in the cache (one atomic INCR on Redis), so every worker process shares the budget."""

    _local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        key = getattr(request, "auth", None)
        ident = f"key{key.pk}" if isinstance(key, ApiKey) else self.get_ident(request)
        limit, period = _rate()
        now = time.time()
        window = int(now // period)
        name = f"api-rate:{ident}:{window}"
        cache.add(name, 0, timeout=period + 1)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=period + 1)
            count = 1
        self._local.wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


def _rate() -> tuple[int, int]:
    count, _, unit = settings.PORTAL_API_RATE.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit[:1] or "s"]
    return int(count), seconds


class PortalAPI(NinjaAPI):
    """Errors are documented as ``application/problem+json``, and every POST documents the
    ``Idempotency-Key`` header."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema["paths"].values():
            for method, operation in path.items():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
                if method == "post":
                    operation.setdefault("parameters", []).append(
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "Replays the first answer for 24 hours.",
                        }
                    )
        return schema


api = PortalAPI(
    title="Dispute portal: marketplace API",
    version="1",
    description=(
        "Orders in, disputes out. Authenticate with `Authorization: Bearer <key>`; errors "
        "are RFC 9457 problem details; send `Idempotency-Key` on POST to retry safely."
    ),
    auth=KeyAuth(),
    throttle=[KeyThrottle()],
    urls_namespace="api",
)

PROBLEMS = {
    400: ProblemOut,
    401: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    422: ProblemOut,
    429: ProblemOut,
}


# --- errors as problem details ---
@api.exception_handler(Problem)
def _problem(request, exc: Problem):
    return problem_response(request, exc)


@api.exception_handler(services.ApiRefusal)
def _refusal(request, exc: services.ApiRefusal):
    return problem_response(request, Problem(exc.kind, exc.detail))


def _location(loc) -> list[str]:
    """Where an error is, as the client sent it: ninja prefixes the parameter's own name
    ("body", "body", "paid_at"); keep one "body"."""
    parts = [str(part) for part in loc]
    if len(parts) >= 2 and parts[0] in ("body", "query", "path") and parts[1] == parts[0]:
        parts = parts[1:]
    return parts


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    errors = [
        {"loc": _location(error.get("loc", ())), "msg": error.get("msg", "")}
        for error in exc.errors
    ]
    return problem_response(request, Problem("validation", "See errors.", errors=errors))


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    response = problem_response(
        request, Problem("unauthorized", "Send a live key: Authorization: Bearer dpk_…")
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Exception)
def _server_error(request, exc: Exception):
    """Anything unexpected: logged with its traceback, answered as a problem (no HTML page,
    no traceback)."""
    logger.exception("API error on %s %s", request.method, request.path)
    return problem_response(
        request, Problem("server-error", "The portal failed; retry with the same key.")
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if exc.status_code == 429:
        wait = getattr(exc, "wait", None) or 1
        return problem_response(
            request,
            Problem("rate-limited", "Slow down.", headers={"Retry-After": str(int(wait) + 1)}),
        )
    kind = {404: "not-found", 401: "unauthorized", 409: "conflict"}.get(
        exc.status_code, "bad-request"
    )
    return problem_response(request, Problem(kind, str(exc)))


def _json(body: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False, json_dumps_params={"default": str})


def _integration(request):
    return request.auth.integration


# --- orders in ---
def _order_in(body: OrderIn) -> services.OrderIn:
    return services.OrderIn(
        id=body.id,
        destination_country=body.destination_country,
        buyer=services.Person(body.buyer.id, body.buyer.email, body.buyer.name),
        store=services.StoreIn(
            body.store.id,
            body.store.name,
            services.Person(body.store.seller.id, body.store.seller.email, body.store.seller.name),
        ),
        lines=[
            LineSpec(
                product_name=line.product,
                quantity=line.quantity,
                unit_price=line.unit_price,
                colour=line.variant.colour,
                size=line.variant.size,
            )
            for line in body.lines
        ],
        currency=body.currency,
        payment_method=str(body.payment_method),
        amount_paid=body.amount_paid,
        paid_at=body.paid_at,
        protection_days=body.protection_days,
    )


def _order_out(order: Order, external_id: str, status: str) -> dict[str, Any]:
    return OrderOut(
        id=external_id,
        number=order.number,
        state=order.state,
        status=status,
        amount_paid=str(order.total_paid),
        currency=order.currency,
        shipped_at=order.shipped_at,
        protection_ends_at=order.protection_ends_at,
        completed_at=order.completed_at,
        dispute_window_ends_at=order.dispute_window_ends_at,
    ).model_dump(mode="json")


@api.post(
    "/orders",
    response={200: OrderOut, 201: OrderOut, **PROBLEMS},
    summary="Create or update one order",
    tags=["orders"],
)
@idempotent
def order_put(request, body: OrderIn):
    (result,) = services.orders_ingest(
        integration=_integration(request), orders=[_order_in(body)]
    ).results
    if isinstance(result, services.ApiRefusal):
        raise Problem(result.kind, result.detail)
    return _json(
        _order_out(result.order, body.id, result.status),
        status=201 if result.status == "created" else 200,
    )


@api.post(
    "/orders/batch",
    response={200: BatchOut, **PROBLEMS},
    summary="Create or update up to 500 orders",
    tags=["orders"],
)
@idempotent
def orders_batch(request, body: OrderBatchIn):
    batch = services.orders_ingest(
        integration=_integration(request), orders=[_order_in(order) for order in body.orders]
    )
    results = []
    for order, result in zip(body.orders, batch.results, strict=True):
        if isinstance(result, services.ApiRefusal):
            problem = problem_response(request, Problem(result.kind, result.detail))
            results.append(
                {"id": order.id, "status": "refused", "problem": json.loads(problem.content)}
            )
        else:
            results.append(
                {
                    "id": order.id,
                    "status": result.status,
                    "order": _order_out(result.order, order.id, result.status),
                }
            )
    return _json({"results": results})


@api.get("/orders/{order_id}", response={200: OrderOut, **PROBLEMS}, tags=["orders"])
def order_get(request, order_id: str):
    order = services.order_for(_integration(request), order_id)
    return _json(_order_out(order, order_id, "unchanged"))


@api.post(
    "/orders/{order_id}/shipment",
    response={200: OrderOut, **PROBLEMS},
    summary="The order shipped: the protection clock starts at shipped_at",
    tags=["orders"],
)
@idempotent
def order_shipment(request, order_id: str, body: ShipmentIn):
    order = services.order_ship(
        integration=_integration(request),
        external_id=order_id,
        carrier=body.carrier,
        tracking=body.tracking_number,
        shipped_at=body.shipped_at,
    )
    return _json(_order_out(order, order_id, "updated"))


@api.post(
    "/orders/{order_id}/receipt",
    response={200: OrderOut, **PROBLEMS},
    summary="The buyer confirmed receipt on the marketplace",
    tags=["orders"],
)
@idempotent
def order_receipt(request, order_id: str):
    order = services.order_receive(integration=_integration(request), external_id=order_id)
    return _json(_order_out(order, order_id, "updated"))


@api.post(
    "/orders/{order_id}/cancellation",
    response={200: OrderOut, **PROBLEMS},
    summary="Cancel an order that has not shipped (it is refunded in full)",
    tags=["orders"],
)
@idempotent
def order_cancellation(request, order_id: str):
    order = services.order_cancel_external(integration=_integration(request), external_id=order_id)
    return _json(_order_out(order, order_id, "updated"))


# --- disputes out ---
def _cursor(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(base64.urlsafe_b64decode(value.encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem("validation", "cursor is not one this API gave.") from exc


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")


@api.get("/disputes", response={200: DisputeListOut, **PROBLEMS}, tags=["disputes"])
def disputes_list(
    request,
    state: str | None = None,
    store_id: str | None = None,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=200),
):
    """Newest first, `limit` per page; follow `next_cursor`."""
    qs = selectors.disputes_for_integration(
        integration=_integration(request),
        state=state,
        store_id=store_id,
        updated_since=updated_since,
    ).order_by("-id")
    before = _cursor(cursor)
    if before:
        qs = qs.filter(id__lt=before)
    page = list(qs[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return _json(
        {
            "items": [selectors.dispute_summary(dispute) for dispute in page],
            "next_cursor": _encode(page[-1].pk) if more else None,
        }
    )


@api.get("/disputes/{dispute_id}", response={200: DisputeOut, **PROBLEMS}, tags=["disputes"])
def dispute_get(request, dispute_id: RowId):
    dispute = selectors.dispute_for_integration(
        integration=_integration(request), dispute_id=dispute_id
    )
    if dispute is None:
        raise Problem("not-found", f"No dispute {dispute_id} for this integration.")
    return _json(selectors.dispute_detail(dispute))


@api.get("/events", response={200: EventFeedOut, **PROBLEMS}, tags=["disputes"])
def events_feed(
    request, after: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=500)
):
    """Every dispute event of this integration's orders, oldest first, after an event id."""
    events = selectors.events_for_integration(
        integration=_integration(request), after=after, limit=limit
    )
    external = dict(
        ExternalOrder.objects.filter(
            order_id__in={event.dispute.order_id for event in events}
        ).values_list("order_id", "external_id")
    )
    return _json(
        {
            "items": [
                selectors.dispute_event_data(event, external.get(event.dispute.order_id))
                for event in events
            ],
            "next_cursor": events[-1].pk if events else after,
        }
    )


@api.post(
    "/refunds/{refund_id}/report",
    response={200: RefundOut, **PROBLEMS},
    summary="The refund arrived, or the payment provider reports it failed",
    tags=["refunds"],
)
@idempotent
def refund_report(request, refund_id: RowId, body: RefundReportIn):
    refund = selectors.refund_for_integration(
        integration=_integration(request), refund_id=refund_id
    )
    if refund is None:
        raise Problem("not-found", f"No refund {refund_id} for this integration.")
    try:
        refund = refund_report_outcome(
            refund_id=refund.pk, arrived=body.outcome == "arrived", note=body.note
        )
    except RefundError as exc:
        raise Problem("refused", str(exc)) from exc
    return _json(selectors.refund_data(refund))


# --- sign-in links ---
def _page(integration, body: SignInLinkIn) -> str:
    if body.page == "orders":
        return reverse("dashboards:my_orders")
    if body.page == "seller_dashboard":
        return reverse("dashboards:seller_dashboard")
    if body.page == "dispute":
        if body.dispute_id is None or not selectors.dispute_for_integration(
            integration=integration, dispute_id=body.dispute_id
        ):
            raise Problem("not-found", "No such dispute for this integration.")
        return reverse("disputes:detail", args=[body.dispute_id])
    if body.order_id is None or body.line is None:
        raise Problem("validation", "open_dispute needs order_id and line.")
    order = services.order_for(integration, body.order_id)
    lines = list(order.lines.order_by("id").values_list("pk", flat=True))
    if body.line > len(lines):
        raise Problem("not-found", f"Order {body.order_id!r} has {len(lines)} line(s).")
    return reverse("disputes:open", args=[lines[body.line - 1]])


@api.post(
    "/sign-in-links",
    response={201: SignInLinkOut, **PROBLEMS},
    summary="A one-time link that logs one of your people in and opens a page",
    tags=["people"],
)
@idempotent
def sign_in_link(request, body: SignInLinkIn):
    integration = _integration(request)
    next_path = _page(integration, body)
    link, token = services.sign_in_link_create(
        integration=integration, person_id=body.person_id, next_path=next_path
    )
    url = settings.SITE_URL.rstrip("/") + reverse("api_sign_in", args=[token])
    return _json({"url": url, "expires_at": link.expires_at.isoformat()}, status=201)


# --- webhook endpoints ---
def _endpoint_out(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    return WebhookEndpointOut(
        id=endpoint.pk,
        url=endpoint.url,
        event_types=endpoint.event_types,
        created_at=endpoint.created_at,
        disabled_at=endpoint.disabled_at,
        secret=secret,
    ).model_dump(mode="json")


@api.get(
    "/webhook-endpoints", response={200: list[WebhookEndpointOut], **PROBLEMS}, tags=["webhooks"]
)
def endpoints_list(request):
    return _json(
        [
            _endpoint_out(e)
            for e in WebhookEndpoint.objects.filter(integration=_integration(request))
        ],
    )


@api.post(
    "/webhook-endpoints",
    response={201: WebhookEndpointOut, **PROBLEMS},
    summary="Register an endpoint; its signing secret is in this answer only",
    tags=["webhooks"],
)
@idempotent
def endpoint_create(request, body: WebhookEndpointIn):
    try:
        endpoint = services.webhook_endpoint_create(
            integration=_integration(request), url=body.url, event_types=body.event_types
        )
    except UnsafeDestination as exc:
        raise Problem("validation", str(exc)) from exc
    return _json(_endpoint_out(endpoint, endpoint.secret), status=201)


@api.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response={200: WebhookEndpointOut, **PROBLEMS},
    summary="A new signing secret; the old one also signs for 24 hours",
    tags=["webhooks"],
)
@idempotent
def endpoint_rotate(request, endpoint_id: RowId):
    endpoint = WebhookEndpoint.objects.filter(
        pk=endpoint_id, integration=_integration(request)
    ).first()
    if endpoint is None:
        raise Problem("not-found", f"No endpoint {endpoint_id} for this integration.")
    secret = webhook_endpoint_rotate(endpoint=endpoint)
    return _json(_endpoint_out(endpoint, secret))


@api.delete(
    "/webhook-endpoints/{endpoint_id}",
    response={204: None, **PROBLEMS},
    tags=["webhooks"],
)
def endpoint_delete(request, endpoint_id: RowId):
    deleted, _ = WebhookEndpoint.objects.filter(
        pk=endpoint_id, integration=_integration(request)
    ).delete()
    if not deleted:
        raise Problem("not-found", f"No endpoint {endpoint_id} for this integration.")
    return HttpResponse(status=204)
