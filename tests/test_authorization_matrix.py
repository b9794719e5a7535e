"""The authorization matrix, generated from the URL configuration (issue 12).

Every URL pattern of the project (``get_resolver()``, walked recursively: a new pattern is
covered without anyone listing it) is requested with GET and with POST as each persona: the
buyer (alice), another buyer (carol), the seller (bob), another seller (dave), an arbitrator
(sam), staff without any permission (clerk) and anonymous. Who counts as "the buyer" is
decided per object (the demo's disputes are carol's, so there alice is the other buyer). A
pattern whose arguments cannot
be filled from the objects below fails the test.

The data is built once: the demo (``seed_demo``), a complaint with files, a hidden item in a
dispute and in a complaint, and a row of each admin model that the demo leaves empty. Each
argument is filled from the model named by the path segment before it (``disputes/<pk>``: a
dispute, ``evidence/<evidence_id>``: an item, ``held/<held_id>``: a file kept for its sender's
refused form, ``orders/<number>``: an order by number, in the
admin ``<app>/<model>/<object_id>``: an object of that model); the last object of a path
decides, and the earlier arguments are its parents (an item's dispute). Some objects come in
variants (an open and a ruled dispute; a shown and a hidden item).

Who may get a 2xx, or change something with a POST, comes from a small table of rules per
object (``OWNERS``) and, in the admin, from Django's permissions of the model, never from a
list of URLs. Every request runs in a savepoint rolled back afterwards, so each starts from the
same data; when it wrote to the database, the tables are compared with the snapshot taken
before the first request. Failures: a 5xx for anyone, a 2xx for a persona the rules do not let
in, or a POST that changed a table for such a persona. All admin patterns are covered (every
registered model's changelist, add, history, delete, change and redirect page, the disputes'
own assign/rule/request-evidence pages, and the site's index, app lists, log-in/out, password
change, autocomplete, jsi18n, view-on-site and catch-all); the POST is a "kitchen sink" of the
fields of the project's forms (a valid revision included), with admin ``post=yes`` (the
delete confirmation), but no changelist bulk actions (a test below checks that a model's view
permission alone offers none).

The marketplace API: its operations (the patterns of its OpenAPI schema) are left to the API's
own matrix, tests/api/test_api_matrix.py, whose personas are keys (the owning marketplace's,
another marketplace's, a revoked one, none) and these same browser sessions; django-ninja's
schema and docs pages are public here. The API's admin pages (integrations, keys, webhook
endpoints and deliveries) follow the admin rule, Django's permissions: no staff persona here
holds one of the api app's (``STAFF_RIGHTS`` says so, and the test checks it), so the arbitrator
and the clerk are refused there like anyone else. The sign-in page is tried with a made-up, a
spent and an expired token of a marketplace's buyer (not a persona), which log nobody in and
change nothing, and with a fresh one (the control: it logs that buyer in, whoever follows it).
For every request, a session that ends up logged in as someone other than its persona (or
the fresh link's buyer) fails.
"""

from __future__ import annotations

import io
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from ninja.openapi import views as ninja_views

from api.keys import api_key_create
from api.models import (
    ApiKey,
    ExternalPerson,
    Integration,
    SignInLink,
    WebhookDelivery,
    WebhookEndpoint,
)
from api.services import sign_in_link_create, sign_in_link_use
from api.webhooks import new_secret
from complaints.models import Complaint
from disputes.models import Dispute, Notification
from disputes.states import DisputeState
from evidence.models import Evidence, HeldFile
from operations import checks
from operations.heartbeat import Freshness
from operations.metrics import metrics_view
from operations.views import HealthView
from orders.models import Incident, Order, OrderLine
from refunds.models import Refund, RefundState
from tests.api.test_api_matrix import api_operation_routes
from tests.factories import UserFactory, make_arbitrator, photo

pytestmark = pytest.mark.django_db

PERSONAS = ["alice", "carol", "bob", "dave", "sam", "clerk", "anonymous"]
ROLES = {
    "alice": "the buyer",
    "carol": "another buyer",
    "bob": "the seller",
    "dave": "another seller",
    "sam": "an arbitrator",
    "clerk": "staff without permissions",
    "anonymous": "anonymous",
}
METHODS = ("GET", "POST")

# What staff may do on the portal's pages, per persona (the rules): arbitrators read
# every dispute and complaint, see hidden items and handle refunds; other staff nothing.
# "integrations" (the api app's admin: marketplaces, their keys and webhooks) is for
# superusers and staff given the api app's permissions: neither persona here has it, and
# their Django permissions must agree (checked when the data is built).
STAFF_RIGHTS: dict[str, set[str]] = {
    "sam": {"disputes", "complaints", "refunds", "hidden"},
    "clerk": set(),
}

# The path segment before an argument names the model it takes.
SEGMENT_MODELS = {
    "disputes": Dispute,
    "complaints": Complaint,
    "notifications": Notification,
    "lines": OrderLine,
    "orders": Order,
    "refunds": Refund,
    "evidence": Evidence,
    "held": HeldFile,  # evidence/held/<held_id>: a file kept for its sender's refused form
}

# The log-in and password-reset pages are for anyone (by their view, not their URL).
PUBLIC_VIEWS = (
    auth_views.LoginView,
    auth_views.LogoutView,
    auth_views.PasswordResetView,
    auth_views.PasswordResetDoneView,
    auth_views.PasswordResetConfirmView,
    auth_views.PasswordResetCompleteView,
)
# django-ninja's own pages of the API: its schema, its docs and its root (a 404): public.
PUBLIC_CALLBACKS = (ninja_views.openapi_json, ninja_views.openapi_view, ninja_views.default_home)
# The health check is for load balancers: anyone. The metrics are for the scraper holding the
# token (set for this test, so that the test client's local address is not enough): nobody.
PUBLIC_VIEWS += (HealthView,)
TOKEN_ONLY_CALLBACKS = (metrics_view,)

# Tables a request may always write: the session and django-axes' log of log-ins.
UNWATCHED_TABLES = ("django_session", "axes_")
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
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


# --- who may: the rules per object ----------------------------------------------------------------
def _parties(order: Order) -> set[int]:
    return {order.buyer_id, order.store.owner_id}


def _staff(right: str) -> set[str]:
    return {name for name, rights in STAFF_RIGHTS.items() if right in rights}


def _case_owners(obj: Any) -> tuple[set[int], set[str]]:
    if isinstance(obj, Dispute):
        return {obj.buyer_id, obj.store.owner_id}, _staff("disputes")
    return {obj.buyer_id}, _staff("complaints")  # a complaint: its buyer, never the seller


def owners(obj: Any) -> tuple[set[int], set[str]]:
    """(user ids, staff persona names) who may see and act on ``obj``."""
    if isinstance(obj, Order):
        return _parties(obj), set()
    if isinstance(obj, OrderLine):
        return _parties(obj.order), set()
    if isinstance(obj, Dispute | Complaint):
        return _case_owners(obj)
    if isinstance(obj, Evidence):
        case = obj.dispute or obj.complaint
        if obj.is_hidden:
            return set(), _staff("hidden")
        return _case_owners(case)
    if isinstance(obj, Refund):
        return _parties(obj.order), _staff("refunds")
    if isinstance(obj, Notification):
        return {obj.recipient_id}, set()
    if isinstance(obj, HeldFile):
        return {obj.owner_id}, set()  # its sender only, staff included out
    raise AssertionError(f"no rule says who may see a {type(obj).__name__}")


# --- the patterns -------------------------------------------------------------------------------
@dataclass
class Pattern:
    route: str
    name: str
    callback: Any
    params: list[tuple[str, str]] = field(default_factory=list)  # (segment before, name)

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> list[Pattern]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            space = namespace
            if entry.namespace:
                space = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            found += walk(entry, prefix + str(entry.pattern), space)
        else:
            assert isinstance(entry, URLPattern)
            name = ""
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            found.append(Pattern(prefix + str(entry.pattern), name, entry.callback))
    return found


CONVERTER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>|\(\?P<(?P<rname>\w+)>")


def parse(pattern: Pattern) -> Pattern:
    """The arguments of the route, each with the path segment before it."""
    for match in PARAM.finditer(pattern.route):
        name = match.group("name") or match.group("rname")
        before = pattern.route[: match.start()].rstrip("/^").split("/")[-1]
        pattern.params.append((before, name))
    return pattern


def url_for(pattern: Pattern, values: dict[str, Any]) -> str:
    """By the pattern's name, or (an unnamed pattern) by putting the values in its route."""
    if pattern.name:
        return reverse(pattern.name, kwargs=values)
    return "/" + PARAM.sub(lambda m: str(values[m.group("name")]), pattern.route)


@dataclass
class Request:
    pattern: Pattern
    url: str
    leaf: Any  # the object that decides who may (None: a page of one's own, or public)
    label: str
    dispute: Dispute | None = None


@dataclass
class SignInToken:
    """A sign-in link's token; only a fresh one logs anyone in (as ``logs_in``)."""

    kind: str
    token: str
    logs_in: str | None  # the user id a fresh link logs in


class World:
    """The objects the arguments are filled from, built once."""

    def __init__(self) -> None:
        call_command("seed_demo", stdout=io.StringIO())
        User = apps.get_model(settings.AUTH_USER_MODEL)
        self.people = {name: User.objects.get(username=name) for name in PERSONAS[:5]}
        self.people["clerk"] = UserFactory(username="clerk", is_staff=True)
        sam = self.people["sam"]
        now = timezone.now()

        open_case = Dispute.objects.filter(state=DisputeState.OPEN).select_related("store").first()
        ruled = Dispute.objects.filter(state=DisputeState.RULED).select_related("store").first()
        assert open_case and ruled, "the demo has an open and a ruled dispute"
        self.disputes = [open_case, ruled]
        # Hide the ruled case's photo; the open case's stays shown.
        hidden = ruled.evidence.order_by("pk").first()
        Evidence.objects.filter(pk=hidden.pk).update(
            hidden_at=now, hidden_by=sam, hidden_reason="Shows a home address."
        )

        # A complaint with two files, one hidden (the demo has none).
        from complaints.services import complaint_allowed, complaint_open

        order = next(
            o
            for o in Order.objects.filter(buyer=self.people["alice"]).order_by("pk")
            if complaint_allowed(order=o, now=now)
        )
        complaint = complaint_open(
            order=order,
            buyer=self.people["alice"],
            body="The seller never answered my questions about this order.",
            files=[photo("a.jpg"), photo("b.jpg")],
            now=now,
        ).complaint
        shown, secret = complaint.evidence.order_by("pk")
        Evidence.objects.filter(pk=secret.pk).update(
            hidden_at=now, hidden_by=sam, hidden_reason="Another customer's address."
        )

        alice_orders = Order.objects.filter(buyer=self.people["alice"]).order_by("pk")
        self.candidates: dict[type, list[Any]] = {
            Dispute: self.disputes,
            Evidence: [
                open_case.evidence.order_by("pk").first(),
                Evidence.objects.get(pk=hidden.pk),
                shown,
                Evidence.objects.get(pk=secret.pk),
            ],
            Complaint: [complaint],
            Refund: [
                Refund.objects.filter(dispute__isnull=False, state=RefundState.SENT)
                .select_related("order__store")
                .first()
            ],
            Notification: [Notification.objects.order_by("pk").first()],
            # A photo kept for alice's refused questionnaire on one of her lines.
            HeldFile: [self._held_file(alice_orders)],
            # The order just paid (the seller may ship it) and one shipped (the buyer may
            # confirm it, or dispute its line).
            Order: [
                alice_orders.filter(shipped_at__isnull=True).first(),
                *alice_orders.filter(shipped_at__isnull=False, completed_at__isnull=True)[:1],
            ],
        }
        self.candidates[OrderLine] = [
            line for o in self.candidates[Order] for line in o.lines.order_by("pk")[:1]
        ]
        for model, objects in self.candidates.items():
            assert objects and all(objects), f"no {model.__name__} to fill arguments with"
        self._admin_rows()
        self._marketplace()
        self._check_staff_rights()

    def _held_file(self, orders: Any) -> HeldFile:
        from disputes.services.opening import dispute_hold_files

        line = OrderLine.objects.filter(
            order__in=orders.filter(shipped_at__isnull=False, completed_at__isnull=True)
        ).first()
        hold = dispute_hold_files(line=line, buyer=self.people["alice"], files=[photo("held.jpg")])
        return hold.held[0]

    def _admin_rows(self) -> None:
        """One row of every admin model the demo leaves empty (django-axes' logs)."""
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        base = {"user_agent": "matrix", "ip_address": "203.0.113.9", "http_accept": "*/*"}
        base["path_info"] = "/login/"
        AccessAttempt.objects.create(
            username="mallory", get_data="", post_data="", failures_since_start=1, **base
        )
        AccessFailureLog.objects.create(username="mallory", **base)
        AccessLog.objects.create(username="alice", **base)

    def _marketplace(self) -> None:
        """A marketplace with a key, a webhook endpoint and a delivery (rows for the API's
        admin pages), one of its buyers (none of the personas, so that a link logging anyone
        in shows), and that buyer's sign-in links: spent, expired and fresh, with a made-up
        token beside them."""
        now = timezone.now()
        market = Integration.objects.create(name="Matrix market", contact_email="ops@m.test")
        api_key_create(integration=market, name="matrix")
        endpoint = WebhookEndpoint.objects.create(
            integration=market, url="https://market.example/hooks", secret=new_secret()
        )
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            message_id="msg_matrix",
            event_type="dispute.opened",
            subject=f"dispute:{self.disputes[0].pk}",
            payload={"type": "dispute.opened"},
            next_attempt_at=now,
        )
        # An incident over a carrier nobody here used, ended (a row for its admin pages).
        sam = self.people["sam"]
        Incident.objects.create(
            reason="The matrix carrier's depot was closed for a day.",
            carrier="Matrix Post",
            destination_country="DE",
            shipped_from=now.date(),
            shipped_to=now.date(),
            days=3,
            started_by=sam,
            ended_at=now,
            ended_by=sam,
            days_paused=1,
        )
        person = UserFactory(username="market-buyer")
        ExternalPerson.objects.create(integration=market, external_id="buyer-1", user=person)
        next_path = reverse("dashboards:my_orders")
        tokens = {}
        for kind in ("spent", "expired", "fresh"):
            link, tokens[kind] = sign_in_link_create(
                integration=market, person_id="buyer-1", next_path=next_path
            )
            if kind == "expired":
                SignInLink.objects.filter(pk=link.pk).update(expires_at=now - timedelta(seconds=1))
        assert sign_in_link_use(token=tokens["spent"]) is not None
        self.sign_in_tokens = [
            SignInToken("made-up", secrets.token_urlsafe(32), None),
            *(SignInToken(kind, tokens[kind], None) for kind in ("spent", "expired")),
            SignInToken("fresh", tokens["fresh"], str(person.pk)),
        ]

    def _check_staff_rights(self) -> None:
        """The staff personas' permissions in the api app agree with ``STAFF_RIGHTS``."""
        for persona, rights in STAFF_RIGHTS.items():
            held = sorted(p for p in self.people[persona].get_all_permissions() if p[:4] == "api.")
            assert bool(held) == ("integrations" in rights), (
                f"{persona} holds {held or 'no api permission'}, but STAFF_RIGHTS gives "
                f"{sorted(rights)}: decide whether {ROLES[persona]} manages integrations"
            )

    def user(self, persona: str) -> Any:
        return self.people.get(persona)

    # --- filling arguments ---------------------------------------------------------------------
    def requests(self, pattern: Pattern) -> list[Request]:
        params = pattern.params
        if not params:
            return [Request(pattern, url_for(pattern, {}), None, "")]
        if pattern.is_admin:
            return self._admin_requests(pattern)
        if [before for before, _name in params] == ["sign-in"]:  # sign-in/<token>/
            name = params[0][1]
            return [
                Request(pattern, url_for(pattern, {name: t.token}), t, f"{name} ({t.kind})")
                for t in self.sign_in_tokens
            ]
        models = []
        for before, name in params:
            if name in ("uidb64", "token"):
                models.append(None)
                continue
            model = SEGMENT_MODELS.get(before)
            if model is None:
                pytest.fail(f"{pattern.name} ({pattern.route}): no rule fills <{name}>")
            models.append(model)
        if all(m is None for m in models):  # password reset: a link with a wrong token
            uid = urlsafe_base64_encode(force_bytes(self.people["alice"].pk))
            return [self._request(pattern, {"uidb64": uid, "token": "set-password"}, None)]
        *parents, leaf_model = models
        found = []
        for leaf in self.candidates[leaf_model]:
            values = {params[-1][1]: self._value(leaf, params[-1][1])}
            chain = [leaf]
            for (_before, name), model in zip(params[:-1], parents, strict=True):
                parent = self._parent(leaf, model)
                if parent is None:
                    break
                values[name] = self._value(parent, name)
                chain.append(parent)
            else:
                dispute = next((o for o in chain if isinstance(o, Dispute)), None)
                found.append(self._request(pattern, values, leaf, dispute))
        if not found:
            pytest.fail(f"{pattern.name} ({pattern.route}): no object fits its arguments")
        return found

    @staticmethod
    def _value(obj: Any, name: str) -> Any:
        return getattr(obj, name) if name in {f.name for f in obj._meta.fields} else obj.pk

    @staticmethod
    def _parent(obj: Any, model: type) -> Any:
        for f in obj._meta.fields:
            if f.is_relation and f.related_model is model and getattr(obj, f.attname):
                return getattr(obj, f.name)
        return None

    def _request(self, pattern: Pattern, values: dict, leaf: Any, dispute=None) -> Request:
        url = url_for(pattern, values)
        label = " ".join(f"{k}={v}" for k, v in values.items())
        if leaf is not None:
            label += f" ({type(leaf).__name__}{' hidden' if getattr(leaf, 'is_hidden', 0) else ''})"
        return Request(pattern, url, leaf, label, dispute)

    def _admin_requests(self, pattern: Pattern) -> list[Request]:
        names = [name for _before, name in pattern.params]
        model = self.admin_model(pattern)
        if names == ["app_label"]:  # every app with a model in the admin
            found = []
            for app_label in sorted({m._meta.app_label for m in admin.site._registry}):
                try:
                    url = reverse(pattern.name, kwargs={"app_label": app_label})
                except NoReverseMatch:
                    continue
                found.append(Request(pattern, url, None, app_label))
            return found
        if names == ["content_type_id", "object_id"]:
            dispute = self.disputes[0]
            kwargs = {
                "content_type_id": ContentType.objects.get_for_model(Dispute).pk,
                "object_id": dispute.pk,
            }
            return [Request(pattern, url_for(pattern, kwargs), None, "dispute")]
        if names == ["url"]:  # the admin's catch-all
            return [Request(pattern, "/admin/no-such-page/", None, "")]
        if names in (["object_id"], ["id"]) and model is not None:
            objects = self.candidates.get(model) or [model._default_manager.order_by("pk").first()]
            if not all(objects):
                pytest.fail(f"{pattern.name}: no {model.__name__} to fill <object_id> with")
            return [
                Request(
                    pattern,
                    url_for(pattern, {names[0]: obj.pk}),
                    None,
                    f"object_id={obj.pk}",
                    obj if isinstance(obj, Dispute) else None,
                )
                for obj in objects
            ]
        pytest.fail(f"{pattern.name} ({pattern.route}): no rule fills {names}")

    @staticmethod
    def admin_model(pattern: Pattern) -> type | None:
        parts = pattern.route.split("/")
        if parts[0] != "admin" or len(parts) < 3:
            return None
        try:
            return apps.get_model(parts[1], parts[2])
        except (LookupError, IndexError, ValueError):
            return None


# --- the rules, per persona ---------------------------------------------------------------------
def may(world: World, request: Request, persona: str) -> bool:
    """May this persona get a 2xx here, and change something with a POST?"""
    user = world.user(persona)
    callback = request.pattern.callback
    view_class = getattr(callback, "view_class", None)
    if request.pattern.name == "admin:login" or (
        view_class is not None and issubclass(view_class, PUBLIC_VIEWS)
    ):
        return True
    if getattr(callback, "func", None) in PUBLIC_CALLBACKS:
        return True
    if callback in TOKEN_ONLY_CALLBACKS:
        return False
    if isinstance(request.leaf, SignInToken):
        # The token is the credential: only a fresh one acts (it is spent), for whoever has
        # it; a made-up, spent or expired one does nothing for anyone.
        return request.leaf.logs_in is not None
    if user is None:
        return False
    if request.pattern.is_admin:
        if not (user.is_active and user.is_staff):
            return False
        model = world.admin_model(request.pattern)
        if model is not None:
            opts = model._meta
            return any(
                user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
                for action in ("view", "add", "change", "delete")
            )
        if [name for _before, name in request.pattern.params] == ["app_label"]:
            return user.has_module_perms(request.label)
        return True  # the site's own pages: index, password change, log-out, ...
    if request.leaf is None:
        return True  # a page of one's own (my orders, my notifications, ...)
    ids, staff = owners(request.leaf)
    return user.pk in ids or persona in staff


# --- running it ----------------------------------------------------------------------------------
def snapshot() -> dict[str, list[tuple]]:
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label not in WATCHED_APPS:
            continue
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "last_login"]
        tables[model._meta.label] = list(model._base_manager.order_by("pk").values_list(*fields))
    return tables


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(label for label in before if before[label] != after.get(label))


def payload(request: Request, world: World) -> dict[str, Any]:
    """Every field of the project's forms, filled so that a rightful person's POST would
    act: a real revision, a long enough text, an arbitrator to assign."""
    text = "A probe of the authorization matrix, long enough for every form."
    return {
        "revision": request.dispute.revision if request.dispute else 0,
        "body": text,
        "note": text,
        "reason": text,
        "answer": text,
        "description": text,
        "outcome": "full_refund",
        "amount": "1.00",
        "carrier": "DHL",
        "tracking": "MATRIX0001",
        "tracking_number": "MATRIX0001",
        "assignee": world.people["sam"].pk,
        "party": "buyer",
        "days": "3",
        "received": "yes",
        "requested_outcome": "refund_only",
        "quantity": "1",
        "amount_choice": "full",
        "post": "yes",
    }


def test_authorization_matrix(capsys, settings, monkeypatch):
    started = time.monotonic()
    settings.PORTAL_METRICS_TOKEN = "matrix-metrics-token"
    world = World()
    # A sweep just completed (the health check reads it on a connection of its own, outside
    # this test's transaction): it answers 200 with everything up.
    monkeypatch.setattr(
        checks,
        "sweep_freshness",
        lambda name, now=None: Freshness(
            name=name,
            completed_at=now or timezone.now(),
            limit=timedelta(minutes=3),
            now=now or timezone.now(),
        ),
    )
    # The API's operations have their own matrix (keys, not sessions): tests/api/.
    api_routes = api_operation_routes()
    every = [parse(p) for p in walk(get_resolver())]
    left_to_api = [p for p in every if re.sub(CONVERTER, r"<\1>", p.route) in api_routes]
    assert left_to_api, "the API's schema names none of the URL patterns"
    patterns = [p for p in every if p not in left_to_api]
    requests = [r for p in patterns for r in world.requests(p)]
    clients = {}
    for persona in PERSONAS:
        clients[persona] = Client(raise_request_exception=False)
        if world.user(persona):
            clients[persona].force_login(world.user(persona))
    baseline = snapshot()
    failures: list[str] = []
    allowed_cells = forbidden_cells = posts_taken = acted = fresh_logins = 0
    for request in requests:
        took_post = False
        link = request.leaf if isinstance(request.leaf, SignInToken) else None
        for persona in PERSONAS:
            own = str(world.user(persona).pk) if world.user(persona) else None
            # Who the session may be afterwards: its persona, nobody (logged out), or the
            # person a fresh sign-in link is for.
            may_be = {own, None, link.logs_in if link else None}
            allowed = may(world, request, persona)
            allowed_cells += allowed
            forbidden_cells += not allowed
            client = clients[persona]
            for method in METHODS:
                with transaction.atomic(), CaptureQueriesContext(connection) as queries:
                    if method == "GET":
                        response = client.get(request.url)
                    else:
                        response = client.post(request.url, payload(request, world))
                    writes = [
                        q["sql"]
                        for q in queries.captured_queries
                        if WRITE.match(q["sql"])
                        and not any(t in q["sql"] for t in UNWATCHED_TABLES)
                    ]
                    changed = changed_tables(baseline, snapshot()) if writes else []
                    session_user, new_session = own, None
                    if settings.SESSION_COOKIE_NAME in response.cookies:  # in, out or anew
                        session_user = new_session = client.session.get("_auth_user_id")
                    transaction.set_rollback(True)
                where = f"{method} {request.url} [{request.pattern.name} {request.label}]"
                status = response.status_code
                if method == "POST" and status != 405 and persona != "anonymous":
                    took_post = True
                if status >= 500:
                    failures.append(f"{where} as {persona}: {status}")
                elif 200 <= status < 300 and not allowed:
                    failures.append(f"{where} as {persona}: unexpected {status}")
                if changed and not allowed:
                    failures.append(f"{where} as {persona} changed {', '.join(changed)}")
                acted += bool(changed) and allowed
                if session_user not in may_be:
                    failures.append(f"{where} as {persona} logged in user #{session_user}")
                fresh_logins += bool(link and link.logs_in and new_session == link.logs_in)
            if client.session.get("_auth_user_id") != own:  # logged out, or in as another
                if own:
                    client.force_login(world.user(persona))
                else:
                    client.logout()
        posts_taken += took_post

    admin_patterns = sum(p.is_admin for p in patterns)
    cells = len(requests) * len(PERSONAS) * len(METHODS)
    fresh_links = sum(bool(r.leaf.logs_in) for r in requests if isinstance(r.leaf, SignInToken))
    with capsys.disabled():
        print(
            f"\nauthorization matrix: {len(patterns)} URL patterns ({admin_patterns} admin; "
            f"{len(left_to_api)} API operation patterns left to tests/api/test_api_matrix.py) "
            f"as {len(requests)} requests × {len(PERSONAS)} personas × {len(METHODS)} methods "
            f"= {cells} answers ({posts_taken} requests take POST; {allowed_cells} persona "
            f"cells allowed, {forbidden_cells} refused; {acted} rightful POSTs changed data); "
            f"{len(failures)} unexpected; "
            f"{time.monotonic() - started:.1f} s"
        )
    assert not failures, "\n".join(failures[:60])
    # The probe reaches: some rightful POSTs acted (rolled back), and some cells refuse.
    assert acted and allowed_cells and forbidden_cells
    # The control: the fresh sign-in link logged its person in, for every persona.
    assert fresh_links and fresh_logins == fresh_links * len(PERSONAS), fresh_logins


# --- the admin's bulk actions and the API's admin pages ------------------------------------------
def _staff_with(username: str, *codenames: str) -> Any:
    from django.contrib.auth.models import Permission

    user = UserFactory(username=username, is_staff=True)
    for codename in codenames:
        app_label, _, name = codename.partition(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    return type(user).objects.get(pk=user.pk)  # without a cached set of permissions


def test_a_view_permission_unlocks_no_admin_action():
    """Django offers an action declared without ``permissions=`` to everyone who may see the
    changelist: staff holding only a model's view permission must be offered none (the
    project's own admin classes; a third-party package's are its own business)."""
    from django.contrib.auth.models import Permission
    from django.test import RequestFactory

    offered = {}
    own_apps = {c.name for c in apps.get_app_configs() if "site-packages" not in c.path}
    for model, model_admin in admin.site._registry.items():
        if type(model_admin).__module__.split(".")[0] not in own_apps:
            continue
        opts = model._meta
        view = f"view_{opts.model_name}"
        if not Permission.objects.filter(
            content_type__app_label=opts.app_label, codename=view
        ).exists():
            continue
        viewer = _staff_with(
            f"viewer-{opts.app_label}-{opts.model_name}", f"{opts.app_label}.{view}"
        )
        request = RequestFactory().get(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        )
        request.user = viewer
        if actions := sorted(model_admin.get_actions(request)):
            offered[opts.label] = actions
    assert not offered, f"a view permission alone runs these actions: {offered}"


def test_view_only_staff_cannot_mint_an_api_key(client):
    """The integration's "make a key" action (which shows a live key) needs the change
    permission; seeing the integrations is not enough."""
    market = Integration.objects.create(name="Market", contact_email="ops@market.test")
    action = {"action": "make_key", "_selected_action": [market.pk]}
    url = reverse("admin:api_integration_changelist")

    client.force_login(_staff_with("viewer", "api.view_integration"))
    assert client.get(url).status_code == 200
    answer = client.post(url, action, follow=True)
    assert not ApiKey.objects.exists()
    assert b"dpk_" not in answer.content

    client.force_login(_staff_with("manager", "api.view_integration", "api.change_integration"))
    answer = client.post(url, action, follow=True)
    assert ApiKey.objects.filter(integration=market).count() == 1
    assert b"dpk_" in answer.content


def test_the_api_admin_is_for_holders_of_its_permissions(client):
    """The control of the matrix's refusals there: a superuser and staff given the api app's
    view permissions see every API admin page; the arbitrator and the clerk see none."""
    market = Integration.objects.create(name="Market", contact_email="ops@market.test")
    key, _raw = api_key_create(integration=market, name="k")
    endpoint = WebhookEndpoint.objects.create(
        integration=market, url="https://m.test/h", secret="s"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, message_id="m1", event_type="dispute.opened", subject="s", payload={}
    )
    rows = {Integration: market, ApiKey: key, WebhookEndpoint: endpoint, WebhookDelivery: delivery}
    pages = [
        reverse(f"admin:api_{model._meta.model_name}_{page}", args=args)
        for model, row in rows.items()
        for page, args in (("changelist", []), ("change", [row.pk]), ("history", [row.pk]))
    ] + [reverse("admin:app_list", args=["api"])]
    viewer = _staff_with("integrations", *(f"api.view_{m._meta.model_name}" for m in rows))
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    for user, expected in (
        (superuser, {200}),
        (viewer, {200}),
        (make_arbitrator("sam"), {403, 404}),  # the app's index: a 404 without its permissions
        (UserFactory(username="clerk", is_staff=True), {403, 404}),
    ):
        client.force_login(user)
        got = {page: client.get(page).status_code for page in pages}
        assert set(got.values()) <= expected, (user.username, got)
