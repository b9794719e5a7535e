"""The composite pages: a buyer's orders, a seller's dashboard, and where home leads."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import works_in_admin
from dashboards.selectors import buyer_order_rows, seller_order_rows
from disputes.standing import store_standing
from orders.models import default_currency
from orders.selectors import (
    incident_notes_for_orders,
    orders_for_buyer,
    orders_for_store,
    store_for_seller,
    store_order_counts,
    store_running_clocks,
)
from orders.states import OrderState
from refunds.selectors import store_escrow


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    if store_for_seller(user=request.user) is not None:
        return redirect("dashboards:seller_dashboard")
    if works_in_admin(request.user) and not request.user.orders.exists():
        return redirect("admin:index")
    return redirect("dashboards:my_orders")


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    page = Paginator(
        orders_for_buyer(user=request.user), settings.PORTAL_ORDERS_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    rows = buyer_order_rows(orders=page, now=now)
    notes = incident_notes_for_orders(order_ids=[row.order.pk for row in rows])
    return render(
        request,
        "dashboards/my_orders.html",
        {"page": page, "rows": rows, "now": now, "incident_notes": notes},
    )


@login_required
def seller_dashboard(request: HttpRequest) -> HttpResponse:
    store = store_for_seller(user=request.user)
    if store is None:
        raise Http404(_("You do not own a store."))
    state = request.GET.get("state") or ""
    if state not in OrderState.values:
        state = ""
    page = Paginator(
        orders_for_store(store=store, state=state or None), settings.PORTAL_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    rows = seller_order_rows(orders=page)
    return render(
        request,
        "dashboards/seller_dashboard.html",
        {
            "store": store,
            "page": page,
            "rows": rows,
            "incident_notes": incident_notes_for_orders(order_ids=[row.order.pk for row in rows]),
            "state": state,
            "states": OrderState,
            "counts": store_order_counts(store=store),
            "clocks": store_running_clocks(store=store),
            "escrow": store_escrow(store=store),
            "standing": store_standing(store_ids=[store.pk])[store.pk],
            # The escrow totals add up the store's orders, all in the portal's currency.
            "currency": default_currency(),
            "now": timezone.now(),
        },
    )
