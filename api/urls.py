from django.urls import path

from api import views
from api.endpoints import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("sign-in/<str:token>/", views.sign_in, name="api_sign_in"),
]
