from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def roles(request: HttpRequest) -> dict[str, object]:
    """The person's store, if they sell, for the navigation bar (queried only when shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_store": None}
    from orders.selectors import store_for_seller

    return {"user_store": SimpleLazyObject(lambda: store_for_seller(user=user))}
