"""The marketplace API's authorization matrix, generated from its OpenAPI schema.

Every operation of ``/api/v1/openapi.json`` is called as each persona; a new operation is
covered without anyone listing it. An operation the routers serve but the schema leaves out,
or a URL under the API's prefix that is neither an operation nor django-ninja's own schema or
docs page, fails the test (the page matrix, tests/test_authorization_matrix.py, leaves every
schema operation to this one). The personas (``PERSONAS``):

* ``owner_key``: a live key of marketplace A, which owns every object the paths name;
* ``other_marketplace_key``: a live key of ANOTHER MARKETPLACE, B, with an order, a dispute
  and a webhook endpoint of its own (so its lists are not empty);
* ``revoked_key`` (A's key, revoked), ``made_up_key`` (A's key prefix, a secret nobody was
  given) and ``no_key``;
* ``buyer_session``, ``seller_session``, ``arbitrator_session``: a browser logged in as A's
  buyer, as A's seller, or as an arbitrator, sending no key: sessions never authenticate.

Path parameters are filled by name with A's objects (``PATH_FILLS``: A's order ids, unshipped
and shipped; an open and a resolved dispute; a refund sent; A's webhook endpoint); optional
query parameters with a rule (``QUERY_FILLS``) are tried empty and filled with A's; request
bodies come from a table per schema component (``BODIES``) and name A's objects (POST /orders
with B's key sends A's order id; a sign-in link asks for A's dispute). A path parameter or a
body with no rule fails the test. Every POST of a persona other than A's key carries an
``Idempotency-Key`` that A already used for that very request, with an answer stored.

Each call runs in a savepoint rolled back afterwards. When it wrote, every table is compared
row by row with the snapshot taken before the first call (``last_login`` and a key's
``last_used_at`` aside), and every row is ascribed to A or to B by foreign keys: the rows of
an integration (keys, ``External*`` ids, endpoints, stored answers, sign-in links), the
orders, stores and people its ``External*`` rows map, and every row pointing at one of those.
Failures:

* A's key: a 5xx; an operation where no call got a 2xx; a writing operation that never
  changed a row; a row of B touched;
* B's key: on an operation with path parameters, anything but 404, or any change but its own
  stored answer to replay; elsewhere a 5xx, a row of A touched (or a new row pointing at A's);
  on a list, a record A's key also sees, or an empty base list (B's own must show); with a
  body naming A's order, anything but a new order of B's own;
* every other persona: anything but 401, or any change at all;
* anyone but A: A's stored answer replayed, or A's data (order numbers, endpoint URL or
  secret, the stored answer) in the body.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey, ExternalOrder, IdempotentResponse, Integration
from api.services import webhook_endpoint_create
from disputes.services import DisputeRequest, dispute_accept
from refunds.models import RefundState
from refunds.services import refunds_send_due
from tests.api.conftest import ApiClient, order_body
from tests.factories import make_arbitrator, open_dispute

pytestmark = pytest.mark.django_db

OWNER = "owner_key"
OTHER_MARKETPLACE = "other_marketplace_key"
PERSONAS = {
    OWNER: "the owning marketplace's live key (A)",
    OTHER_MARKETPLACE: "another marketplace's live key (B)",
    "revoked_key": "A's key, revoked",
    "made_up_key": "A's key prefix with a secret nobody was given",
    "no_key": "no Authorization header",
    "buyer_session": "a browser session of A's buyer, no key",
    "seller_session": "a browser session of A's seller, no key",
    "arbitrator_session": "a browser session of an arbitrator, no key",
}
SESSIONS = ("buyer_session", "seller_session", "arbitrator_session")

WATCHED_APPS = (
    "auth",
    "accounts",
    "orders",
    "refunds",
    "evidence",
    "disputes",
    "complaints",
    "api",
)
IGNORED_FIELDS = ("last_login", "last_used_at")  # noted on every log-in / use of a key
UNWATCHED_TABLES = ("django_session", "axes_")
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
STORED_ANSWER = "A-MARKET-STORED-ANSWER"

# Bodies with which B's key must get a record of its own (a new order, a new endpoint).
CREATES_OWN = {"OrderIn", "OrderBatchIn", "WebhookEndpointIn"}


# --- the operations, from the schema --------------------------------------------------------------
@dataclass
class Operation:
    method: str
    path: str  # as in the schema: /api/v1/orders/{order_id}
    operation_id: str
    path_params: list[str] = field(default_factory=list)
    query_params: list[str] = field(default_factory=list)
    body: str | None = None  # the schema component of the JSON body

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_list(self) -> bool:
        return self.method == "GET" and not self.path_params


def api_schema() -> dict[str, Any]:
    response = Client().get(reverse("api:openapi-json"))
    assert response.status_code == 200, response.content[:300]
    return response.json()


def operations(schema: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            params = spec.get("parameters", [])
            body = None
            if "requestBody" in spec:
                body_schema = spec["requestBody"]["content"]["application/json"]["schema"]
                body = body_schema.get("$ref", "inline").rsplit("/", 1)[-1]
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=spec.get("operationId", ""),
                    path_params=[p["name"] for p in params if p["in"] == "path"],
                    query_params=[p["name"] for p in params if p["in"] == "query"],
                    body=body,
                )
            )
    return found


def api_operation_routes() -> set[str]:
    """The schema's operations as Django routes (``api/v1/orders/<order_id>``): the page
    matrix leaves these patterns to this matrix."""
    return {re.sub(r"\{(\w+)\}", r"<\1>", path.lstrip("/")) for path in api_schema()["paths"]}


def _schema_gaps(schema: dict[str, Any]) -> list[str]:
    """Operations the API serves that the schema (and so this matrix) would miss."""
    from api.endpoints import api

    gaps = []
    prefix = reverse("api:api-root").rstrip("/")
    listed = {(m.upper(), p) for p, methods in schema["paths"].items() for m in methods}
    for router_prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    full = f"{prefix}{router_prefix}{path}".replace("//", "/")
                    if (method, full) not in listed:
                        gaps.append(f"{method} {full} is served but not in the schema")
    ninja_pages = {"api:openapi-json", "api:openapi-view", "api:api-root"}
    routes = {re.sub(r"\{(\w+)\}", r"<\1>", p.lstrip("/")) for p in schema["paths"]}
    for route, name in _routes(get_resolver()):
        if not route.startswith(prefix.lstrip("/") + "/"):
            continue
        plain = re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"<\1>", route)
        if plain not in routes and name not in ninja_pages:
            gaps.append(f"{route} ({name}) is under the API but not in its schema")
    return gaps


def _routes(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            space = namespace
            if entry.namespace:
                space = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _routes(entry, prefix + str(entry.pattern), space)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield prefix + str(entry.pattern), name


# --- the two marketplaces -----------------------------------------------------------------------
def claim(text: str) -> DisputeRequest:
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description=text,
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )


def a_order(order_id: str, **extra) -> dict[str, Any]:
    return order_body(order_id, buyer="a-buyer", store="a-store", seller="a-seller", **extra)


CORRECTED_LINES = [{"product": "Summer dress", "quantity": 1, "unit_price": "45.00"}]


class Markets:
    """Marketplace A (owns everything the paths name) and marketplace B (its own order,
    dispute and endpoint), built through the API as a marketplace would."""

    def __init__(self, client: Client) -> None:
        now = timezone.now()
        self.a = Integration.objects.create(name="A-market", contact_email="ops@a.test")
        self.b = Integration.objects.create(name="B-market", contact_email="ops@b.test")
        self.a_key, a_raw = api_key_create(integration=self.a, name="A's live key")
        revoked, revoked_raw = api_key_create(integration=self.a, name="A's old key")
        api_key_revoke(key=revoked)
        _b_key, b_raw = api_key_create(integration=self.b, name="B's live key")
        self.keys = {
            OWNER: a_raw,
            OTHER_MARKETPLACE: b_raw,
            "revoked_key": revoked_raw,
            "made_up_key": f"dpk_{self.a_key.prefix}_{'x' * 43}",
        }
        self.a_endpoint = webhook_endpoint_create(
            integration=self.a, url="https://a-market.example/hooks"
        )
        webhook_endpoint_create(integration=self.b, url="https://b-market.example/hooks")

        a, b = ApiClient(client, a_raw), ApiClient(client, b_raw)
        for order_id in ("a-paid", "a-shipped", "a-disputed", "a-resolved"):
            assert a.post("/orders", a_order(order_id)).status_code == 201
        for order_id in ("a-shipped", "a-disputed", "a-resolved"):
            shipped = a.post(
                f"/orders/{order_id}/shipment", {"carrier": "DHL", "tracking_number": "1"}
            )
            assert shipped.status_code == 200, shipped.content
        self.open_dispute = self._dispute("a-disputed", "A-market's open claim")
        self.resolved_dispute = self._dispute("a-resolved", "A-market's resolved claim")
        dispute_accept(dispute_id=self.resolved_dispute.pk, user=self.resolved_dispute.store.owner)
        refunds_send_due(now=now.replace(year=now.year + 1))
        self.refund = self.resolved_dispute.refunds.get()
        assert self.refund.state == RefundState.SENT

        body = order_body("b-1", buyer="b-buyer", store="b-store", seller="b-seller")
        assert b.post("/orders", body).status_code == 201
        b.post("/orders/b-1/shipment", {"carrier": "DHL", "tracking_number": "2"})
        self._dispute("b-1", "B-market's claim", integration=self.b)

        paid = ExternalOrder.objects.get(integration=self.a, external_id="a-paid").order
        self.buyer, self.seller = paid.buyer, paid.store.owner
        self.arbitrator = make_arbitrator("sam")
        # A's data that must never reach anyone else.
        self.markers = [
            *order_numbers(self.a),
            self.a_endpoint.url,
            self.a_endpoint.secret,
            STORED_ANSWER,
        ]
        # Keys used within the minute are not written again: calls need not write.
        ApiKey.objects.update(last_used_at=timezone.now())

    def _dispute(self, order_id: str, text: str, integration=None):
        row = ExternalOrder.objects.get(integration=integration or self.a, external_id=order_id)
        line = row.order.lines.order_by("id").first()
        return open_dispute(line=line, buyer=row.order.buyer, request=claim(text))


def order_numbers(integration: Integration) -> list[str]:
    return list(
        ExternalOrder.objects.filter(integration=integration).values_list(
            "order__number", flat=True
        )
    )


# --- filling the operations ---------------------------------------------------------------------
# Each rule gives (label, value) for A's objects.
PATH_FILLS = {
    "order_id": lambda m: [("A's unshipped order", "a-paid"), ("A's shipped order", "a-shipped")],
    "dispute_id": lambda m: [
        ("A's open dispute", m.open_dispute.pk),
        ("A's resolved dispute", m.resolved_dispute.pk),
    ],
    "refund_id": lambda m: [("A's refund, sent", m.refund.pk)],
    "endpoint_id": lambda m: [("A's webhook endpoint", m.a_endpoint.pk)],
}
QUERY_FILLS = {
    "store_id": lambda m: "a-store",
    "order_id": lambda m: "a-paid",
    "dispute_id": lambda m: m.open_dispute.pk,
}
BODIES = {
    "OrderIn": lambda m: [
        ("A's unshipped order id, lines corrected", a_order("a-paid", lines=CORRECTED_LINES))
    ],
    "OrderBatchIn": lambda m: [
        (
            "A's order ids, one corrected",
            {"orders": [a_order("a-paid", lines=CORRECTED_LINES), a_order("a-shipped")]},
        )
    ],
    "ShipmentIn": lambda m: [("a new shipment", {"carrier": "DHL", "tracking_number": "MX-9"})],
    "RefundReportIn": lambda m: [("arrived", {"outcome": "arrived", "note": "matrix"})],
    "SignInLinkIn": lambda m: [
        (
            "A's buyer, into A's dispute",
            {"person_id": "a-buyer", "page": "dispute", "dispute_id": m.open_dispute.pk},
        ),
        (
            "A's buyer, to dispute A's order",
            {"person_id": "a-buyer", "page": "open_dispute", "order_id": "a-shipped", "line": 1},
        ),
        (
            "B's buyer, into A's dispute",
            {"person_id": "b-buyer", "page": "dispute", "dispute_id": m.open_dispute.pk},
        ),
        (
            "B's buyer, to dispute A's order",
            {"person_id": "b-buyer", "page": "open_dispute", "order_id": "a-shipped", "line": 1},
        ),
    ],
    "WebhookEndpointIn": lambda m: [("a new endpoint", {"url": "https://probe.example/hook"})],
}


@dataclass
class Call:
    operation: Operation
    path: str
    query: dict[str, Any]
    body: bytes | None
    label: str
    idempotency_key: str = ""

    @property
    def where(self) -> str:
        query = f"?{urlencode(self.query)}" if self.query else ""
        return f"{self.operation.method} {self.path}{query} [{self.label}]"


def calls_for(operation: Operation, markets: Markets) -> list[Call]:
    fills = []
    for name in operation.path_params:
        if name not in PATH_FILLS:
            pytest.fail(f"{operation.label}: no rule fills the path parameter {name!r}")
        fills.append(PATH_FILLS[name](markets))
    queries = [("", {})] + [
        (f"{name}=A's", {name: QUERY_FILLS[name](markets)})
        for name in operation.query_params
        if name in QUERY_FILLS
    ]
    if operation.body is None:
        bodies = [("", b"{}" if operation.method == "POST" else None)]
    elif operation.body in BODIES:
        bodies = [
            (label, json.dumps(body).encode()) for label, body in BODIES[operation.body](markets)
        ]
    else:
        pytest.fail(f"{operation.label}: no body for the schema component {operation.body!r}")
    found = []
    for path_values in itertools.product(*fills):
        path = operation.path
        for name, (_label, value) in zip(operation.path_params, path_values, strict=True):
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        for (query_label, query), (body_label, body) in itertools.product(queries, bodies):
            label = ", ".join(
                part
                for part in (*(lbl for lbl, _v in path_values), query_label, body_label)
                if part
            )
            found.append(Call(operation, path, query, body, label or "-"))
    return found


def store_answers(calls: list[Call], markets: Markets) -> None:
    """A's stored answer for every POST, under a key that the others then send."""
    for number, call in enumerate(calls):
        if call.operation.method != "POST":
            continue
        call.idempotency_key = f"matrix-{number}"
        material = b"\n".join([b"POST", call.path.encode(), call.body or b""])
        IdempotentResponse.objects.create(
            integration=markets.a,
            key=call.idempotency_key,
            request_digest=hashlib.sha256(material).hexdigest(),
            status=201,
            body=json.dumps({"stored": STORED_ANSWER}).encode(),
        )


# --- rows and who they belong to ----------------------------------------------------------------
Row = tuple[str, Any]  # (model label, pk)


def _models():
    return [
        m for m in apps.get_models(include_auto_created=True) if m._meta.app_label in WATCHED_APPS
    ]


def _columns(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in IGNORED_FIELDS]


def snapshot() -> dict[str, dict[Any, tuple]]:
    tables = {}
    for model in _models():
        columns = _columns(model)
        at = columns.index(model._meta.pk.attname)
        rows = model._base_manager.values_list(*columns)
        tables[model._meta.label] = {row[at]: row for row in rows}
    return tables


def _relations() -> dict[str, list[tuple[int, str]]]:
    """Per model, (column index, related model label) of each foreign key."""
    relations = {}
    for model in _models():
        columns = _columns(model)
        relations[model._meta.label] = [
            (columns.index(f.attname), f.related_model._meta.label)
            for f in model._meta.concrete_fields
            if f.is_relation and f.attname in columns
        ]
    return relations


INTEGRATION = "api.Integration"


def ascribe(tables, relations, integration_id: int) -> set[Row]:
    """The rows of one integration: those naming it, what its ``External*`` rows map, and
    (repeatedly) every row pointing at one of those."""
    owned: set[Row] = set()
    for label, rows in tables.items():
        for at, related in relations[label]:
            if related == INTEGRATION:
                owned |= {(label, pk) for pk, row in rows.items() if row[at] == integration_id}
    for label, pk in list(owned):
        if label.split(".")[1].startswith("External"):
            row = tables[label][pk]
            owned |= {(rel, row[at]) for at, rel in relations[label] if rel != INTEGRATION}
    grew = True
    while grew:
        grew = False
        for label, rows in tables.items():
            links = [(at, rel) for at, rel in relations[label] if rel != INTEGRATION]
            if not links:
                continue
            for pk, row in rows.items():
                if (label, pk) not in owned and any((rel, row[at]) in owned for at, rel in links):
                    owned.add((label, pk))
                    grew = True
    return owned


def touched_rows(before, after) -> set[Row]:
    touched = set()
    for label, rows in before.items():
        now = after.get(label, {})
        touched |= {(label, pk) for pk, row in rows.items() if now.get(pk) != row}
        touched |= {(label, pk) for pk in now.keys() - rows.keys()}
    return touched


def id_leaves(value: Any, key: str = "") -> set[tuple[str, Any]]:
    """Every (key, value) of an identifier in a JSON answer: ``id`` and ``*_id``."""
    if isinstance(value, dict):
        return set().union(*(id_leaves(v, k) for k, v in value.items()), set())
    if isinstance(value, list):
        return set().union(*(id_leaves(v, key) for v in value), set())
    if value is not None and (key == "id" or key.endswith("_id")):
        return {(key, value)}
    return set()


def _json(response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _statuses(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["status"]] if isinstance(value.get("status"), str) else []
        return own + [s for v in value.values() for s in _statuses(v)]
    if isinstance(value, list):
        return [s for v in value for s in _statuses(v)]
    return []


# --- the matrix ---------------------------------------------------------------------------------
@pytest.fixture
def _api_settings(settings):
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True  # no DNS look-up for the example hosts
    settings.PORTAL_API_RATE = "100000/m"  # the matrix is about keys, not their budget


def test_api_authorization_matrix(capsys, _api_settings):
    started = time.monotonic()
    schema = api_schema()
    gaps = _schema_gaps(schema)
    assert not gaps, "\n".join(gaps)
    ops = operations(schema)
    markets = Markets(Client())
    calls = [call for operation in ops for call in calls_for(operation, markets)]
    store_answers(calls, markets)

    bare = Client(raise_request_exception=False)
    clients = {name: bare for name in PERSONAS if name not in SESSIONS}
    for name, user in zip(
        SESSIONS, (markets.buyer, markets.seller, markets.arbitrator), strict=True
    ):
        clients[name] = Client(raise_request_exception=False)
        clients[name].force_login(user)

    relations = _relations()
    baseline = snapshot()
    owners_before = {
        "A": ascribe(baseline, relations, markets.a.pk),
        "B": ascribe(baseline, relations, markets.b.pk),
    }
    assert not owners_before["A"] & owners_before["B"], "a row of both marketplaces"
    for needed in ("orders.Order", "disputes.Dispute", "refunds.Refund", "api.WebhookEndpoint"):
        assert any(label == needed for label, _pk in owners_before["A"]), needed

    failures: list[str] = []
    owner_ok: dict[str, int] = dict.fromkeys((o.label for o in ops), 0)
    owner_acted: dict[str, int] = dict.fromkeys((o.label for o in ops if o.method != "GET"), 0)
    a_seen: dict[int, set] = {}
    answers = 0
    for index, call in enumerate(calls):
        operation = call.operation
        for persona in PERSONAS:
            headers = {}
            if persona in markets.keys:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {markets.keys[persona]}"
            if call.idempotency_key and persona != OWNER:
                headers["HTTP_IDEMPOTENCY_KEY"] = call.idempotency_key
            url = call.path + (f"?{urlencode(call.query)}" if call.query else "")
            with transaction.atomic(), CaptureQueriesContext(connection) as queries:
                response = clients[persona].generic(
                    operation.method,
                    url,
                    data=call.body or b"",
                    content_type="application/json",
                    **headers,
                )
                wrote = any(
                    WRITE.match(q["sql"]) and not any(t in q["sql"] for t in UNWATCHED_TABLES)
                    for q in queries.captured_queries
                )
                touched: dict[Row, set[str]] = {}
                if wrote:
                    after = snapshot()
                    rows = touched_rows(baseline, after)
                    if rows:
                        owners_after = {
                            name: ascribe(after, relations, integration.pk)
                            for name, integration in (("A", markets.a), ("B", markets.b))
                        }
                        for row in rows:
                            touched[row] = {
                                name
                                for name in ("A", "B")
                                if row in owners_after[name] or row in owners_before[name]
                            }
                transaction.set_rollback(True)
            answers += 1
            status = response.status_code
            body = _json(response)
            where = f"{call.where} as {persona} ({PERSONAS[persona]})"

            def fail(message: str, where=where) -> None:
                failures.append(f"{where}: {message}")

            def rows_text(rows, touched=touched) -> str:
                return ", ".join(
                    f"{label}#{pk} ({'+'.join(sorted(touched[(label, pk)])) or 'nobody'}'s)"
                    for label, pk in sorted(rows, key=str)
                )

            if status >= 500:
                fail(f"{status}")
            if operation.method == "GET" and touched:
                fail(f"a read changed {rows_text(touched)}")

            if persona == OWNER:
                owner_ok[operation.label] += 200 <= status < 300
                if 200 <= status < 300 and touched and operation.method != "GET":
                    owner_acted[operation.label] += 1
                if theirs := [row for row, who in touched.items() if "B" in who]:
                    fail(f"changed the other marketplace's {rows_text(theirs)}")
                if operation.is_list and 200 <= status < 300:
                    a_seen[index] = id_leaves(body)
                continue

            # Everyone else: never A's stored answer, never A's data.
            if response.get("Idempotent-Replayed") or any(
                marker.encode() in response.content for marker in markets.markers
            ):
                fail(f"{status} shows A's data: {response.content[:200]!r}")

            if persona != OTHER_MARKETPLACE:
                if status != 401:
                    fail(f"{status}, not 401")
                if touched:
                    fail(f"changed {rows_text(touched)}")
                continue

            # The other marketplace's live key.
            if operation.path_params:
                if status != 404:
                    fail(f"{status}, not 404")
                own_answer = [
                    row
                    for row, who in touched.items()
                    if row[0] == IdempotentResponse._meta.label and who == {"B"}
                ]
                if rest := set(touched) - set(own_answer):
                    fail(f"changed {rows_text(rest)}")
                continue
            if bad := [row for row, who in touched.items() if who != {"B"}]:
                fail(f"changed or pointed at rows not its own: {rows_text(bad)}")
            if operation.is_list:
                if status != 200:
                    fail(f"{status}, not 200")
                seen = id_leaves(body)
                if shared := seen & a_seen.get(index, set()):
                    fail(f"sees A's records: {sorted(shared, key=str)}")
                if not call.query and not seen:
                    fail("sees none of its own records")
            if operation.body in CREATES_OWN:
                if not (200 <= status < 300 and touched):
                    fail(f"{status}: no record of its own made")
                if any(s != "created" for s in _statuses(body)):
                    fail(f"not a new order of its own: {_statuses(body)}")

    for operation in ops:
        if not owner_ok[operation.label]:
            failures.append(f"{operation.label}: A's own key never got a 2xx (fix the fills)")
        if operation.method != "GET" and not owner_acted[operation.label]:
            failures.append(f"{operation.label}: A's own key never changed a row")
    for index, call in enumerate(calls):
        if call.operation.is_list and not call.query and not a_seen.get(index):
            failures.append(f"{call.where}: A's key sees no records (the probe is empty)")

    with_params = sum(bool(o.path_params) for o in ops)
    with capsys.disabled():
        print(
            f"\nAPI authorization matrix: {len(ops)} operations from the schema "
            f"({with_params} with path parameters, {sum(o.is_list for o in ops)} lists) as "
            f"{len(calls)} calls × {len(PERSONAS)} personas = {answers} answers; "
            f"{len(failures)} unexpected; {time.monotonic() - started:.1f} s"
        )
    assert not failures, "\n".join(failures[:60])
