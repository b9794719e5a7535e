from django.urls import path

from dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("orders/", views.my_orders, name="my_orders"),
    path("seller/", views.seller_dashboard, name="seller_dashboard"),
]
