"""A candidate file through the employer portal, beside the same file sent
straight to the verification job API, in the same run.

    make run DEMO=1   # in another terminal (or credledger up --home DIR --demo)
    python bench/employer_portal.py [--rows 100000] [--home .credledger]

Reads the demo employer's key and credential ids from DIR/demo.json, signs in
to the portal with the key (as a first user does), uploads a --rows CSV
(name, email, badge link) streamed as multipart, waits until the portal shows
the job done (its answers imported), then downloads the results CSV. The raw
limit is the same rows posted as CSV to /v1/verification-jobs with the same
key, waited for and downloaded: what the portal adds is the candidate file's
parsing and storage, the import of the answers and the export. It also
prints the portal process's resident memory before and after, which must not
grow with the file (everything is streamed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def portal_rss_kib(port: int) -> int | None:
    """Resident memory of the `serve employer` child listening on this port's settings."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"serve\x00employer" in cmdline and (f"CREDLEDGER_EMPLOYER_PORT={port}".encode() in environ
                                                or b"CREDLEDGER_EMPLOYER_PORT" not in environ):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    return None


async def rows(ids: list[str], count: int, base: str, header: bytes, portal: bool) -> AsyncIterator[bytes]:
    yield header
    for start in range(0, count, 10_000):
        lines = []
        for i in range(start, min(count, start + 10_000)):
            credential = ids[i % len(ids)]
            lines.append(f"Candidate {i},c{i}@example.org,{base}/verify/{credential}\n" if portal
                         else f"{credential},c{i}@example.org\n")
        yield "".join(lines).encode()


async def through_portal(session: aiohttp.ClientSession, portal: str, key: str, ids: list[str], count: int,
                         base: str) -> float:
    page = await (await session.get(f"{portal}/employer/sign-in")).text()
    signed_in = await session.post(f"{portal}/employer/sign-in/key", data={
        "csrf_token": CSRF.search(page)[1], "email": "bench@employer.example", "api_key": key})
    token = CSRF.search(await signed_in.text())[1]
    started = time.monotonic()
    form = aiohttp.MultipartWriter("form-data")
    form.append(token).set_content_disposition("form-data", name="csrf_token")
    form.append(rows(ids, count, base, b"name,email,credential\n", True), {"Content-Type": "text/csv"}) \
        .set_content_disposition("form-data", name="file", filename="bench.csv")
    response = await session.post(f"{portal}/employer/checks/bulk", data=form, allow_redirects=False)
    check = portal + response.headers["Location"]
    while not (await (await session.get(check + "/progress")).json())["done"]:
        await asyncio.sleep(0.2)
    lines = 0
    async with session.get(check + "/results.csv") as answer:
        async for _ in answer.content:
            lines += 1
    assert lines == count + 1, lines
    return time.monotonic() - started


async def straight(session: aiohttp.ClientSession, verification: str, key: str, ids: list[str], count: int) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    async with session.post(f"{verification}/v1/verification-jobs", data=rows(ids, count, "", b"id,email\n", False),
                            headers={**headers, "Content-Type": "text/csv"}) as response:
        job = await response.json()
    while (await (await session.get(verification + job["links"]["self"], headers=headers)).json())["status"] \
            not in ("completed", "failed"):
        await asyncio.sleep(0.2)
    lines = 0
    async with session.get(verification + job["links"]["results"] + "?format=csv", headers=headers) as answer:
        async for _ in answer.content:
            lines += 1
    assert lines == count + 1, lines
    return time.monotonic() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--home", default=".credledger")
    parser.add_argument("--portal", default="", help="default: http://127.0.0.1:$CREDLEDGER_EMPLOYER_PORT or 8088")
    parser.add_argument("--verification", default="", help="default: $CREDLEDGER_VERIFICATION_PORT or 8084")
    args = parser.parse_args()
    demo = json.loads((Path(args.home) / "demo.json").read_text())
    port = int(os.environ.get("CREDLEDGER_EMPLOYER_PORT", "8088"))
    portal = args.portal or f"http://127.0.0.1:{port}"
    verification = args.verification or f"http://127.0.0.1:{os.environ.get('CREDLEDGER_VERIFICATION_PORT', '8084')}"
    ids = [c["credential_id"] for c in demo["credentials"].values()]
    key = demo["employer"]["api_key"]
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) as session:
        before = portal_rss_kib(port)
        raw = await straight(session, verification, key, ids, args.rows)
        ours = await through_portal(session, portal, key, ids, args.rows, verification)
        after = portal_rss_kib(port)
    print(f"rows: {args.rows:,}")
    print(f"portal, end to end (upload, job, import, CSV): {ours:.1f} s = {args.rows / ours:,.0f} rows/s")
    print(f"raw limit, the job API alone (upload, job, CSV): {raw:.1f} s = {args.rows / raw:,.0f} rows/s")
    print(f"ratio: {raw / ours:.2f}")
    if before and after:
        print(f"portal resident memory: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after")


if __name__ == "__main__":
    asyncio.run(main())
