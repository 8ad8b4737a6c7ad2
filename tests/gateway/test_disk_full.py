"""A full disk: chat answers withheld (503, never unaudited), and /readyz says so until space returns.

The database lives on a small tmpfs mounted for the test (CI runs as root on a machine that allows
it; a failed mount fails the test rather than skipping it).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import Gateway, start_gateway, stop_gateway
from tests.gateway.test_bad_input import MSG


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _readyz(gw: Gateway) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{gw.url}/readyz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_full_disk_withholds_answers_and_readyz_reports_it(project: Path, small_disk: Path) -> None:
    gw = start_gateway(project, db=str(small_disk / "runwell.db"))
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    filler = small_disk / "filler"
    try:
        assert client.chat.completions.create(model="support", messages=MSG).choices[0].message.content
        assert _readyz(gw)[0] == 200
        # Fill every remaining byte of the disk. Unbuffered: a buffered file would try to flush its
        # last block again on close and raise from there.
        with open(filler, "wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
            except OSError:
                pass
        # The write-ahead log may still hold space a checkpoint freed, so an append or two can
        # succeed (their entries are durable, so answering is right); the first that cannot be
        # written must withhold its answer.
        big = [{"role": "user", "content": "x" * 20000}]
        answered = 0
        with pytest.raises(openai.APIStatusError) as err:
            while answered < 200:
                client.chat.completions.create(model="support", messages=big)
                answered += 1
        assert err.value.status_code == 503, answered  # no answer goes out without its audit entry
        time.sleep(1.1)  # /readyz caches its checks for a second
        status, body = _readyz(gw)
        assert status == 503 and body["status"] == "not_ready"
        failing = {name for name, check in body["checks"].items() if check["status"] == "fail"}
        assert failing & {"store", "audit"}
        filler.unlink()
        answer = client.chat.completions.create(model="support", messages=MSG)
        assert answer.choices[0].message.content
    finally:
        stop_gateway(gw)
