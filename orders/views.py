from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from disputes.complaints import complaint_allowed
from disputes.standing import store_standing
from orders.forms import ShipForm
from orders.models import default_currency
from orders.selectors import (
    orders_for_buyer,
    orders_for_store,
    store_for_seller,
    store_order_counts,
    store_running_clocks,
)
from orders.services import OrderError, order_confirm_receipt, order_mark_shipped
from orders.states import OrderState
from refunds.selectors import store_escrow

PAGE_SIZE = 25


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    if store_for_seller(user=request.user) is not None:
        return redirect("orders:seller_dashboard")
    if request.user.is_staff and not request.user.orders.exists():
        return redirect("admin:index")
    return redirect("orders:my_orders")


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    page = Paginator(orders_for_buyer(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # The stores' standing: one read for the whole page, whatever the number of stores.
    standings = store_standing(store_ids={order.store_id for order in page}, with_median=False)
    for order in page:
        order.window = order.dispute_window(now=now)
        order.store_standing = standings.get(order.store_id)
        order.complaint_allowed = complaint_allowed(order=order, now=now)
        for line in order.lines.all():
            dispute = getattr(line, "dispute", None)
            line.existing_dispute = dispute
            line.window = order.dispute_window(now=now, already_disputed=dispute is not None)
    return render(request, "orders/my_orders.html", {"page": page, "now": now})


@login_required
@require_http_methods(["GET", "POST"])
def confirm_receipt(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(orders_for_buyer(user=request.user), number=number)
    if request.method == "POST":
        try:
            order_confirm_receipt(order=order, buyer=request.user)
        except OrderError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Thank you: order %(number)s is completed.") % {"number": order.number},
            )
        return redirect("orders:my_orders")
    if order.state == OrderState.COMPLETED:
        messages.info(request, _("You have already confirmed receipt of this order."))
        return redirect("orders:my_orders")
    now = timezone.now()
    return render(
        request,
        "orders/confirm_receipt.html",
        {"order": order, "window": order.dispute_window(now=now), "now": now},
    )


def _store_or_404(request: HttpRequest):
    store = store_for_seller(user=request.user)
    if store is None:
        raise Http404(_("You do not own a store."))
    return store


@login_required
def seller_dashboard(request: HttpRequest) -> HttpResponse:
    store = _store_or_404(request)
    state = request.GET.get("state") or ""
    if state not in OrderState.values:
        state = ""
    page = Paginator(orders_for_store(store=store, state=state or None), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "orders/seller_dashboard.html",
        {
            "store": store,
            "page": page,
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


@login_required
@require_http_methods(["GET", "POST"])
def ship_order(request: HttpRequest, number: str) -> HttpResponse:
    store = _store_or_404(request)
    order = get_object_or_404(orders_for_store(store=store), number=number)
    form = ShipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order_mark_shipped(order=order, seller=request.user, **form.cleaned_data)
        except OrderError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Order %(number)s is shipped; the buyer's protection clock has started.")
                % {"number": order.number},
            )
            return redirect("orders:seller_dashboard")
    return render(request, "orders/ship.html", {"order": order, "form": form, "store": store})
