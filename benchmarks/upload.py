"""Peak memory of the web server while a buyer uploads a 150 MB unpacking video.

A real gunicorn worker serves the portal; the video goes up as a browser sends it
(multipart/form-data over HTTP) to the dispute's evidence form. The worker's peak resident
memory (VmHWM) is compared with the size of the file: uploads stream to disk and storage in
chunks, so the peak should stay far below it.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from harness import ROOT, bench_line, setup_django

SIZE_MB = int(os.environ.get("BENCH_UPLOAD_MB", "150"))
FIXTURE = ROOT / "tests" / "fixtures" / "unboxing.mp4"


def write_video(path: Path, size: int) -> None:
    """The tiny fixture MP4 followed by a 'free' box: a valid video of ``size`` bytes."""
    data = FIXTURE.read_bytes()
    padding = size - len(data)
    with path.open("wb") as out:
        out.write(data)
        out.write(struct.pack(">I", padding) + b"free")
        left = padding - 8
        block = b"\0" * (1 << 20)
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def write_multipart(path: Path, video: Path, csrf: str, boundary: str) -> None:
    with path.open("wb") as out, video.open("rb") as source:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"'
            f"\r\n\r\n{csrf}\r\n".encode()
        )
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="unboxing.mp4"\r\nContent-Type: video/mp4\r\n\r\n'.encode()
        )
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    url = setup_django()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from disputes.services import DisputeRequest, dispute_open
    from orders.models import Store
    from orders.services import LineSpec, order_create, order_mark_shipped

    User = get_user_model()
    suffix = uuid.uuid4().hex[:8]
    buyer = User.objects.create_user(f"up-buyer-{suffix}", password="bench-pass-123")
    seller = User.objects.create_user(f"up-seller-{suffix}")
    store = Store.objects.create(name="Upload bench", slug=f"up-{suffix}", owner=seller)
    order = order_create(
        buyer=buyer,
        store=store,
        lines=[LineSpec("Camera", 1, Decimal("99.00"))],
        payment_method="card",
    )
    order_mark_shipped(order=order, seller=seller, carrier="DHL", tracking_number="UP1")
    dispute = dispute_open(
        line=order.lines.get(),
        buyer=buyer,
        request=DisputeRequest(
            False, "not_received", "Nothing has arrived yet.", 1, "refund_only", Decimal("99.00")
        ),
        now=timezone.now(),
    ).dispute

    work = Path(tempfile.mkdtemp(prefix="upload-bench-"))
    video = work / "unboxing.mp4"
    write_video(video, SIZE_MB * 1024 * 1024)
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
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("GET", "/login/")
        response = conn.getresponse()
        response.read()
        csrf = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
        body = f"csrfmiddlewaretoken={csrf}&username={buyer.username}&password=bench-pass-123"
        conn.request(
            "POST",
            "/login/",
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
                "Referer": f"http://127.0.0.1:{port}/login/",
            },
        )
        response = conn.getresponse()
        response.read()
        cookies = "; ".join(
            part.split(";", 1)[0] for part in response.msg.get_all("Set-Cookie") or []
        )
        csrf = re.search(r"csrftoken=([^;]+)", cookies).group(1)
        headers = {"Cookie": cookies, "Referer": f"http://127.0.0.1:{port}/"}
        conn.request("GET", f"/disputes/{dispute.pk}/", headers=headers)
        page = conn.getresponse()
        page.read()
        assert page.status == 200, page.status

        worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
        before = peak_rss_mb(worker)
        boundary = uuid.uuid4().hex
        multipart = work / "body"
        write_multipart(multipart, video, csrf, boundary)
        started = time.perf_counter()
        with multipart.open("rb") as stream:
            conn.request(
                "POST",
                f"/disputes/{dispute.pk}/evidence/",
                stream,
                {
                    **headers,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(multipart.stat().st_size),
                },
            )
            response = conn.getresponse()
            response.read()
        seconds = time.perf_counter() - started
        assert response.status == 302, response.status
        after = peak_rss_mb(worker)
        stored = dispute.evidence.get()
        assert stored.received_size == SIZE_MB * 1024 * 1024
        print(
            f"# uploaded {SIZE_MB} MB in {seconds:.1f}s; worker peak RSS {before:.0f} MB "
            f"before, {after:.0f} MB after"
        )
        print(bench_line("upload_peak_rss", after, "MB", float(SIZE_MB)))
        print(bench_line("upload_rss_growth", after - before, "MB", float(SIZE_MB)))
    finally:
        server.terminate()
        server.wait(10)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
