from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from orders.models import Order, OrderLine, Store


class PagedList:
    """An admin list at the portal's page size, whose pages never count the whole table
    (the "N total" beside a search or filter would read every matching row)."""

    show_full_result_count = False

    @property
    def list_per_page(self) -> int:
        return settings.PORTAL_ADMIN_PAGE_SIZE


class StoreFilter(admin.SimpleListFilter):
    """ "By store" for a marketplace's thousands of stores: the sidebar lists the store chosen
    and the stores whose name matches the search box (at most ``SHOWN``), never every store.
    The address keeps admin's own parameter (``?store__id__exact=7``)."""

    title = _("store")
    parameter_name = "store__id__exact"
    SHOWN = 10

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        chosen = self.value()
        term = request.GET.get(SEARCH_VAR, "").strip()
        wanted = Q(pk=int(chosen)) if chosen and chosen.isdigit() else Q()
        if term:
            wanted |= Q(name__icontains=term)
        if not wanted:
            return []
        return list(
            Store.objects.filter(wanted).order_by("name").values_list("pk", "name")[: self.SHOWN]
        )

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        chosen = self.value()
        if chosen and chosen.isdigit():
            return queryset.filter(store_id=int(chosen))
        return queryset


class RecordAdmin(PagedList, admin.ModelAdmin):
    """Records that only services write: staff read them, never add, edit or delete."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Store)
class StoreAdmin(PagedList, admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name", "owner__username", "owner__email"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["owner"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ["product_name", "colour", "size", "quantity", "unit_price", "amount_paid"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(RecordAdmin):
    """Orders are records pushed in by the marketplace: staff read them, never edit them."""

    list_display = [
        "number",
        "buyer",
        "store",
        "state",
        "total_paid",
        "currency",
        "payment_method",
        "placed_at",
        "protection_ends_at",
    ]
    list_filter = ["state", "payment_method", StoreFilter]
    search_fields = ["number", "buyer__username", "buyer__email", "store__name", "tracking_number"]
    date_hierarchy = "placed_at"
    list_select_related = ["buyer", "store"]
    inlines = [OrderLineInline]
