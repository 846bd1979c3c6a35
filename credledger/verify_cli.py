"""`credledger verify --csv FILE`: check a whole applicant pool as a recruiter.

Uploads the CSV as a bulk job (streamed from disk), shows a progress bar
while the service works through it, then writes the answers as CSV.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
from tqdm import tqdm

POLL_SECONDS = 0.5


class VerifyError(Exception):
    pass


async def _problem(response: aiohttp.ClientResponse) -> VerifyError:
    try:
        body = await response.json(content_type=None)
        text = body.get("detail") or body.get("title") or str(body)
    except (aiohttp.ContentTypeError, ValueError):
        text = await response.text()
    return VerifyError(f"{response.status}: {text}")


async def _submit(session: aiohttp.ClientSession, url: str, csv_path: Path) -> dict:
    with csv_path.open("rb") as upload:
        async with session.post(f"{url}/v1/verification-jobs", data=upload,
                                headers={"Content-Type": "text/csv"}) as response:
            if response.status != 202:
                raise await _problem(response)
            return await response.json()


async def _wait(session: aiohttp.ClientSession, url: str, job: dict, show_progress: bool) -> dict:
    with tqdm(total=job["total"], unit="cred", unit_scale=True, desc="verifying", file=sys.stderr,
              disable=not show_progress) as bar:
        while True:
            async with session.get(url + job["links"]["self"]) as response:
                if response.status != 200:
                    raise await _problem(response)
                progress = await response.json()
            bar.update(progress["done"] - bar.n)
            if progress["status"] == "completed":
                return progress
            if progress["status"] == "failed":
                raise VerifyError(f"the service gave up on the job after {progress['done']} of"
                                  f" {progress['total']} rows: {progress.get('error') or 'no reason given'}")
            await asyncio.sleep(POLL_SECONDS)


async def _download(session: aiohttp.ClientSession, url: str, job: dict, out: Path) -> None:
    async with session.get(url + job["links"]["results"], params={"format": "csv"}) as response:
        if response.status != 200:
            raise await _problem(response)
        with out.open("wb") as target:
            async for data in response.content.iter_chunked(256 * 1024):
                target.write(data)


async def run_verify(url: str, api_key: str, csv_path: Path, out: Path, show_progress: bool) -> dict:
    headers = {"Authorization": f"Bearer {api_key}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        job = await _submit(session, url.rstrip("/"), csv_path)
        progress = await _wait(session, url.rstrip("/"), job, show_progress)
        await _download(session, url.rstrip("/"), job, out)
    return progress


def verify_csv(url: str, api_key: str, csv_path: str, out: str) -> int:
    if not api_key:
        print("an API key is needed: --api-key KEY or CREDLEDGER_API_KEY", file=sys.stderr)
        return 2
    try:
        progress = asyncio.run(run_verify(url, api_key, Path(csv_path), Path(out), sys.stderr.isatty()))
    except (VerifyError, aiohttp.ClientError, OSError, ValueError, KeyError) as exc:
        print(f"verification failed: {exc}", file=sys.stderr)
        return 1
    counts = progress["counts"]
    print(f"{progress['total']} checked: {counts.get('valid', 0)} valid, {counts.get('invalid', 0)} invalid, "
          f"{counts.get('unknown', 0)} unknown; results in {out}")
    return 0
