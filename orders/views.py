from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from orders.forms import ShipForm
from orders.selectors import (
    orders_for_buyer,
    orders_for_store,
    receipt_confirmation,
    store_for_seller,
)
from orders.services import OrderError, order_confirm_receipt, order_mark_shipped
from orders.states import OrderState


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
        return redirect("dashboards:my_orders")
    if order.state == OrderState.COMPLETED:
        messages.info(request, _("You have already confirmed receipt of this order."))
        return redirect("dashboards:my_orders")
    now = timezone.now()
    return render(
        request,
        "orders/confirm_receipt.html",
        {"order": order, "confirmation": receipt_confirmation(order=order, now=now), "now": now},
    )


def _store_or_404(request: HttpRequest):
    store = store_for_seller(user=request.user)
    if store is None:
        raise Http404(_("You do not own a store."))
    return store


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
            return redirect("dashboards:seller_dashboard")
    return render(request, "orders/ship.html", {"order": order, "form": form, "store": store})
