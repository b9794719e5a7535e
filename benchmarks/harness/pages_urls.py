"""The portal's URLs plus the benchmark's yardstick: a logged-in page that runs one query
for 20 rows and renders them with a template, through the portal's whole middleware."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path

from orders.models import Order
from portal.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the portal's)


@login_required
def one_query(request: HttpRequest) -> HttpResponse:
    orders = list(
        Order.objects.filter(buyer=request.user)
        .order_by("-placed_at", "-id")
        .values("number", "placed_at", "state", "total_paid", "currency")[:20]
    )
    return render(request, "bench/one_query.html", {"orders": orders})


urlpatterns = [
    path("bench/one-query/", one_query, name="bench_one_query"),
    path("", include("portal.urls")),
]
