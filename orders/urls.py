from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("orders/<str:number>/confirm-receipt/", views.confirm_receipt, name="confirm_receipt"),
    path("seller/orders/<str:number>/ship/", views.ship_order, name="ship_order"),
]
