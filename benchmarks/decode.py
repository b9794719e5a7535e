"""Peak memory of a web worker while four buyers each upload a 40 Mpx JPEG at the same time.

A real gunicorn worker (one process, four threads) serves the portal; four requests, each
with one JPEG of 7300 x 5475 pixels (just under the 40 Mpx limit, about 1 MB as sent), go
to the dispute's evidence form at once. Decoding such a photo fully costs 120 MB; JPEG
draft mode and the limit of decodes at once (``PORTAL_EVIDENCE_DECODES_AT_ONCE``) must keep
the worker's peak resident memory (VmHWM) under 500 MB.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

from harness import ROOT, bench_line, setup_django

SIZE = (7300, 5475)  # 39.97 Mpx
UPLOADS = 4
BASELINE_MB = 500.0


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def big_jpeg() -> bytes:
    """A photo-like JPEG: smooth gradients with a little grain, so it stays small."""
    from PIL import Image, ImageChops

    small = (SIZE[0] // 8, SIZE[1] // 8)
    red = Image.linear_gradient("L").resize(small)
    green = Image.radial_gradient("L").resize(small)
    blue = ImageChops.invert(red)
    grain = Image.effect_noise(small, 12)
    image = Image.merge(
        "RGB", (ImageChops.add(red, grain, 2, 0), green, ImageChops.subtract(blue, grain))
    )
    image = image.resize(SIZE)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def multipart(photo: bytes, csrf: str, boundary: str, name: str) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"'
            f"\r\n\r\n{csrf}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )


def login(port: int, username: str) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    response.read()
    csrf = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    conn.request(
        "POST",
        "/login/",
        f"csrfmiddlewaretoken={csrf}&username={username}&password=bench-pass-123",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"http://127.0.0.1:{port}/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    cookies = "; ".join(part.split(";", 1)[0] for part in response.msg.get_all("Set-Cookie") or [])
    return cookies, re.search(r"csrftoken=([^;]+)", cookies).group(1)


def main() -> None:
    # The benchmark runs a production worker (DEBUG off), which needs a key: one for this run.
    os.environ.setdefault("SECRET_KEY", uuid.uuid4().hex * 2)
    url = setup_django()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from disputes.services import DisputeRequest, dispute_open
    from orders.models import Store
    from orders.services import LineSpec, order_create, order_mark_shipped

    User = get_user_model()
    suffix = uuid.uuid4().hex[:8]
    buyer = User.objects.create_user(f"dec-buyer-{suffix}", password="bench-pass-123")
    seller = User.objects.create_user(f"dec-seller-{suffix}")
    store = Store.objects.create(name="Decode bench", slug=f"dec-{suffix}", owner=seller)
    order = order_create(
        buyer=buyer,
        store=store,
        lines=[LineSpec("Camera", 1, Decimal("99.00"))],
        payment_method="card",
    )
    order_mark_shipped(order=order, seller=seller, carrier="DHL", tracking_number="DEC1")
    dispute = dispute_open(
        line=order.lines.get(),
        buyer=buyer,
        request=DisputeRequest(
            False, "not_received", "Nothing has arrived yet.", 1, "refund_only", Decimal("99.00")
        ),
        now=timezone.now(),
    ).dispute

    work = Path(tempfile.mkdtemp(prefix="decode-bench-"))
    photo = big_jpeg()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(work / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(work),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "CELERY_BROKER_URL": "memory://",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "-w",
            "1",
            "-k",
            "gthread",
            "--threads",
            str(UPLOADS),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        cookies, csrf = login(port, buyer.username)
        headers = {"Cookie": cookies, "Referer": f"http://127.0.0.1:{port}/"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/disputes/{dispute.pk}/", headers=headers)
        page = conn.getresponse()
        page.read()
        assert page.status == 200, page.status

        worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
        before = peak_rss_mb(worker)
        bodies = []
        for index in range(UPLOADS):
            boundary = uuid.uuid4().hex
            bodies.append((boundary, multipart(photo, csrf, boundary, f"big-{index}.jpg")))
        statuses: list[int] = []
        start = threading.Barrier(UPLOADS)

        def send(boundary: str, body: bytes) -> None:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            start.wait()
            client.request(
                "POST",
                f"/disputes/{dispute.pk}/evidence/",
                body,
                {
                    **headers,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(len(body)),
                },
            )
            response = client.getresponse()
            response.read()
            statuses.append(response.status)

        threads = [threading.Thread(target=send, args=item) for item in bodies]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        assert statuses == [302] * UPLOADS, statuses
        after = peak_rss_mb(worker)
        stored = list(dispute.evidence.all())
        assert len(stored) == UPLOADS, len(stored)
        sizes = sorted({(item.width, item.height) for item in stored})
        print(
            f"# {UPLOADS} uploads of a {SIZE[0]}x{SIZE[1]} JPEG ({len(photo) / 1e6:.1f} MB) at "
            f"once in {seconds:.1f}s, stored as {sizes}; worker peak RSS {before:.0f} MB "
            f"before, {after:.0f} MB after"
        )
        print(bench_line("upload_four_40mpx_peak_rss", after, "MB", BASELINE_MB))
    finally:
        server.terminate()
        server.wait(10)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
