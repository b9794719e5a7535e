"""The portal's URLs plus the benchmark's yardstick: a logged-in page that runs one query
for 20 rows and renders them with a template, through the portal's whole middleware; and the
portal's frame alone (base.html with an empty page: the navigation, its two lazy queries, the
language switch), the floor under every portal page."""

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


@login_required
def frame(request: HttpRequest) -> HttpResponse:
    return render(request, "bench/frame.html")


urlpatterns = [
    path("bench/one-query/", one_query, name="bench_one_query"),
    path("bench/frame/", frame, name="bench_frame"),
    path("", include("portal.urls")),
]
