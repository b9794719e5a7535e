from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("orders/", views.my_orders, name="my_orders"),
    path("orders/<str:number>/confirm-receipt/", views.confirm_receipt, name="confirm_receipt"),
    path("seller/", views.seller_dashboard, name="seller_dashboard"),
    path("seller/orders/<str:number>/ship/", views.ship_order, name="ship_order"),
]
