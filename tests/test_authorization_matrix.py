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
dispute, ``evidence/<evidence_id>``: an item, ``orders/<number>``: an order by number, in the
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
delete confirmation), but no changelist bulk actions.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
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

from complaints.models import Complaint
from disputes.models import Dispute, Notification
from disputes.states import DisputeState
from evidence.models import Evidence
from orders.models import Order, OrderLine
from refunds.models import Refund, RefundState
from tests.factories import UserFactory, photo

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

# Tables a request may always write: the session and django-axes' log of log-ins.
UNWATCHED_TABLES = ("django_session", "axes_")
WATCHED_APPS = ("auth", "accounts", "orders", "refunds", "evidence", "disputes", "complaints")
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

    def user(self, persona: str) -> Any:
        return self.people.get(persona)

    # --- filling arguments ---------------------------------------------------------------------
    def requests(self, pattern: Pattern) -> list[Request]:
        params = pattern.params
        if not params:
            return [Request(pattern, url_for(pattern, {}), None, "")]
        if pattern.is_admin:
            return self._admin_requests(pattern)
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


def test_authorization_matrix(capsys):
    started = time.monotonic()
    world = World()
    patterns = [parse(p) for p in walk(get_resolver())]
    requests = [r for p in patterns for r in world.requests(p)]
    clients = {}
    for persona in PERSONAS:
        clients[persona] = Client(raise_request_exception=False)
        if world.user(persona):
            clients[persona].force_login(world.user(persona))
    baseline = snapshot()
    failures: list[str] = []
    allowed_cells = forbidden_cells = posts_taken = acted = 0
    for request in requests:
        took_post = False
        for persona in PERSONAS:
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
            if world.user(persona) and not client.session.get("_auth_user_id"):
                client.force_login(world.user(persona))  # a log-out POST ended the session
        posts_taken += took_post

    admin_patterns = sum(p.is_admin for p in patterns)
    cells = len(requests) * len(PERSONAS) * len(METHODS)
    with capsys.disabled():
        print(
            f"\nauthorization matrix: {len(patterns)} URL patterns ({admin_patterns} admin) "
            f"as {len(requests)} requests × {len(PERSONAS)} personas × {len(METHODS)} methods "
            f"= {cells} answers ({posts_taken} requests take POST; {allowed_cells} persona "
            f"cells allowed, {forbidden_cells} refused; {acted} rightful POSTs changed data); "
            f"{len(failures)} unexpected; "
            f"{time.monotonic() - started:.1f} s"
        )
    assert not failures, "\n".join(failures[:60])
    # The probe reaches: some rightful POSTs acted (rolled back), and some cells refuse.
    assert acted and allowed_cells and forbidden_cells
