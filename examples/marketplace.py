"""A marketplace talks to the dispute portal's API: one order in, its disputes out.

Start the portal (`make run`), make an API key in admin (Integrations, "Make a new API key"),
then in a second terminal:

    PORTAL_URL=http://127.0.0.1:8000 PORTAL_API_KEY=dpk_... .venv/bin/python examples/marketplace.py

It runs a small webhook receiver, registers it, pushes an order, ships it and prints a one-time
link that signs the buyer in on the "open a dispute" page. Then it prints every webhook it
receives, signature checked; it answers `dispute.opened` with a sign-in link for the seller,
and reports `refund.sent` refunds as arrived. Needs `requests` and `standardwebhooks` only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class PortalError(Exception):
    """An answer in application/problem+json: `type`, `title`, `detail`, maybe `errors`."""


class Portal:
    def __init__(self, url: str, key: str) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body: dict | None = None, key: str | None = None):
        """One request; a POST carries an Idempotency-Key, the same on every retry, so the
        portal acts once however often the network makes us ask."""
        headers = {"Idempotency-Key": key or str(uuid.uuid4())} if method == "POST" else {}
        for attempt in range(4):
            try:
                answer = self.http.request(
                    method, self.base + path, json=body, headers=headers, timeout=30
                )
            except requests.ConnectionError:
                if attempt == 3:
                    raise
                time.sleep(2**attempt)
                continue
            if answer.status_code == 429 or answer.status_code >= 500:
                time.sleep(float(answer.headers.get("Retry-After", 2**attempt)))
                continue
            break
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"title": answer.reason}
            errors = json.dumps(problem["errors"]) if problem.get("errors") else ""
            detail = f"{problem.get('detail', '')} {errors}".strip()
            raise PortalError(f"{answer.status_code} {problem['title']}: {detail}")
        return answer.json() if answer.content else None


def line(colour: str, quantity: int, unit_price: str) -> dict:
    variant = {"colour": colour, "size": "M"}
    return {
        "product": "Summer dress",
        "variant": variant,
        "quantity": quantity,
        "unit_price": unit_price,
    }


def order_payload(order_id: str) -> dict:
    """Two dresses bought by buyer b-1 from store s-1 (seller u-1): ids are the marketplace's."""
    return {
        "id": order_id,
        "buyer": {"id": "b-1", "email": "alice@buyers.example", "name": "Alice Martin"},
        "store": {
            "id": "s-1",
            "name": "Bob's Boutique",
            "seller": {"id": "u-1", "email": "bob@sellers.example", "name": "Bob Stone"},
        },
        "lines": [line("red", 1, "45.00"), line("blue", 2, "30.00")],
        "currency": "USD",
        "payment_method": "card",
        "amount_paid": "105.00",
        "paid_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "protection_days": 60,
    }


class Receiver:
    """A webhook receiver on a free local port: verifies each message (Standard Webhooks)
    and queues it; a bad signature gets a 400 (the portal would retry it)."""

    def __init__(self) -> None:
        self.secret = ""  # known once the endpoint is registered
        self.messages: queue.Queue = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                try:
                    message = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError as exc:
                    print(f"webhook    REFUSED: bad signature ({exc})")
                    self.send_response(400)
                else:
                    receiver.messages.put(message)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def describe(message: dict) -> str:
    data = message["data"]
    if message["type"].startswith("refund."):
        return f"refund #{data['id']} {data['amount']} {data['currency']} ({data['state']})"
    if message["type"].startswith("payout."):
        return f"{data['amount']} {data['currency']} to store {data['store_id']}"
    return f"dispute #{data['dispute_id']} on order {data['order_id']} ({data['to_state']})"


def react(portal: Portal, message: dict) -> None:
    """What the marketplace does on a webhook: here, a link for the seller to answer a new
    dispute, and the refund reported as arrived (as the payment provider would tell it)."""
    data = message["data"]
    if message["type"] == "dispute.opened":
        page = {"person_id": "u-1", "page": "dispute", "dispute_id": data["dispute_id"]}
        link = portal.call("POST", "/sign-in-links", page)
        print(f"sign-in    the seller answers (in a private window): {link['url']}")
    elif message["type"] == "refund.sent":
        refund = portal.call("POST", f"/refunds/{data['id']}/report", {"outcome": "arrived"})
        print(f"report     refund #{refund['id']} reached the buyer: {refund['state']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("PORTAL_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", default=os.environ.get("PORTAL_API_KEY"))
    args = parser.parse_args()
    if not args.key:
        parser.error("give the API key: --key dpk_... or PORTAL_API_KEY=dpk_...")
    portal = Portal(args.url, args.key)
    order_id = f"EX-{int(time.time())}"

    receiver = Receiver()
    print(f"receiver   listening on {receiver.url}")
    try:
        endpoint = portal.call("POST", "/webhook-endpoints", {"url": receiver.url})
    except PortalError as exc:  # http:// and 127.0.0.1 are allowed with DEBUG=1 (`make run`)
        raise PortalError(f"{exc} (does the portal run with DEBUG=1, as `make run`?)") from None
    receiver.secret = endpoint["secret"]  # in this answer only: keep it
    print(f"endpoint   #{endpoint['id']} registered for every event type")
    order = portal.call("POST", "/orders", order_payload(order_id), key=f"order-{order_id}")
    print(f"order      {order_id} {order['status']}: number {order['number']}, {order['state']}")
    shipment = {"carrier": "DHL", "tracking_number": f"JD{order_id[3:]}"}
    order = portal.call("POST", f"/orders/{order_id}/shipment", shipment)
    print(f"shipment   {order_id} {order['state']}; protection ends {order['protection_ends_at']}")
    link = portal.call(
        "POST",
        "/sign-in-links",
        {"person_id": "b-1", "page": "open_dispute", "order_id": order_id, "line": 1},
    )
    print(f"sign-in    the buyer opens a dispute on line 1 (once, until {link['expires_at']}):")
    print(f"           {link['url']}")
    print("waiting    for webhooks (Ctrl-C stops)")
    try:
        while True:
            message = receiver.messages.get()
            print(f"webhook    {message['type']:<18} {describe(message)}  [signature ok]")
            try:
                react(portal, message)
            except PortalError as exc:
                print(f"refused    {exc}")
    except KeyboardInterrupt:
        portal.call("DELETE", f"/webhook-endpoints/{endpoint['id']}")
        print(f"\nendpoint   #{endpoint['id']} removed")


if __name__ == "__main__":
    try:
        main()
    except PortalError as exc:
        raise SystemExit(f"refused    {exc}") from None
    except requests.ConnectionError as exc:
        raise SystemExit(f"no portal  {exc.request.url}: is `make run` running?") from None
