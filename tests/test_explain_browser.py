"""The ``explain --html`` page in a real browser: headless Chromium driven over the DevTools
protocol (a small client on the standard library, loopback only), pressing Next and the arrow
keys through the steps and reading the result cells from the DOM.

Skipped when no Chromium binary is installed (Debian package ``chromium``).
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import upsamp
from upsamp.cli import cli

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 20.0  # seconds for any one wait


def browser_binary() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


pytestmark = pytest.mark.skipif(browser_binary() is None, reason="no Chromium binary installed")


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, client masking."""

    def __init__(self, url: str) -> None:
        assert url.startswith("ws://127.0.0.1:"), url
        rest = url[len("ws://") :]
        hostport, _, path = rest.partition("/")
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].split()[1] == b"101", head

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the browser closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the browser closed the connection")
            if opcode in (0x9, 0xA):  # ping/pong: not used by the DevTools server here
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class Browser:
    """Headless Chromium with one page, driven by DevTools commands."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            [
                binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", f"--user-data-dir={profile}",
                "--window-size=1200,900", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.next_id = 0
        self.errors: list[str] = []
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.quit()
                pytest.skip("Chromium did not start its DevTools server")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        connection.request("GET", "/json/list")
        targets = json.loads(connection.getresponse().read())
        connection.close()
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.command("Runtime.enable")
        self.command("Page.enable")

    def command(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            message = json.loads(self.ws.receive())
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(message["params"]["exceptionDetails"])[:500])
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(expression)

    def open(self, url: str) -> None:
        self.command("Page.navigate", url=url)
        page = json.dumps(url.split("#")[0])
        self.wait_for(  # the page's script runs before the document is complete
            f"location.href.split('#')[0] === {page} && document.readyState === 'complete'"
            " && document.getElementById('explain-data') !== null"
        )

    def press(self, key: str, code: int) -> None:
        for kind in ("keyDown", "keyUp"):
            self.command("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                         windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)

    def click(self, selector: str) -> None:
        box = self.evaluate(
            f"(function () {{ var r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }())"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.command("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                         button="left", clickCount=1)

    def quit(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "profile"
    profile.mkdir()
    chromium = Browser(browser_binary(), profile)
    try:
        yield chromium
    finally:
        chromium.quit()


def write_page(tmp_path: Path, *args: str) -> Path:
    from click.testing import CliRunner

    path = tmp_path / "page.html"
    result = CliRunner().invoke(cli, ["explain", *args, "--html", str(path), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


def cells(browser: Browser, table: str = "result") -> list[list[str]]:
    return browser.evaluate(
        f"Array.from(document.querySelectorAll('#{table} tr')).map(function (tr) {{"
        " return Array.from(tr.children).map(function (td) { return td.textContent; }); })"
    )


def as_text(array) -> list[list[str]]:
    return [[upsamp_format(v) for v in row] for row in np.asarray(array, dtype=float)]


def upsamp_format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def step(browser: Browser) -> int:
    return int(browser.evaluate("document.body.dataset.step"))


def test_next_steps_through_scatter_and_gather_to_the_result(browser, tmp_path):
    x = np.array([[1.0, 3, 2, 1], [1, 3, 3, 1], [2, 1, 1, 3], [3, 2, 3, 3]])
    k = np.array([[1.0, 2, 3], [0, 1, 0], [2, 1, 2]])
    path = write_page(tmp_path, "transconv", "--input", json.dumps(x.tolist()), "--kernel",
                      json.dumps(k.tolist()), "--stride", "1", "--padding", "1")
    expected = upsamp.transconv(x, k, padding=1)
    browser.open(path.as_uri())
    browser.wait_for("document.body.dataset.kind === 'scatter-start'")
    total = int(browser.evaluate("document.getElementById('counter').textContent.split(' ')[3]"))
    assert total == 1 + 16 + 2 + 1 + expected.size
    full = np.zeros((6, 6))
    for n in range(16):
        browser.click("#next")  # a real mouse click on the Next button
        assert step(browser) == n + 1
        i, j = divmod(n, 4)
        full[i : i + 3, j : j + 3] += x[i, j] * k
        # the running sum the page shows after placing x[i, j]·K
        assert cells(browser) == as_text(full), (i, j)
    browser.press("ArrowRight", 39)
    assert browser.evaluate("document.body.dataset.kind") == "sum"
    assert cells(browser) == as_text(full)
    browser.press("ArrowRight", 39)
    assert browser.evaluate("document.body.dataset.kind") == "crop"
    assert cells(browser) == as_text(expected)  # 003_69796fc647406eca.txt's padding example
    browser.press("ArrowRight", 39)
    assert browser.evaluate("document.body.dataset.kind") == "gather-start"
    assert all(c == "" for row in cells(browser) for c in row)
    for n in range(expected.size):
        browser.press("ArrowRight", 39)
        shown = cells(browser)
        r, c = divmod(n, expected.shape[1])
        assert shown[r][c] == upsamp_format(expected[r, c])
        text = browser.evaluate("document.getElementById('step-text').textContent")
        assert text.startswith(f"y[{r},{c}] = ") and text.endswith(
            f"= {upsamp_format(expected[r, c])}"
        )
    assert cells(browser) == as_text(expected)
    assert browser.evaluate("document.getElementById('next').disabled") is True
    # Previous and the left arrow go back; the address follows the step
    browser.click("#prev")
    browser.press("ArrowLeft", 37)
    assert step(browser) == total - 3
    assert browser.evaluate("location.hash") == f"#step={total - 3}"
    assert browser.errors == []


def test_step_in_the_address_and_every_cell_of_the_fives_example(browser, tmp_path):
    path = write_page(tmp_path, "transconv", "--input", "[[1,2],[3,4]]", "--kernel",
                      "[[5,5],[5,5]]", "--stride", "1")
    # steps: start, 4 partial products, sum, crop, gather start, 9 cells
    browser.open(path.as_uri() + "#step=5")
    browser.wait_for("document.body.dataset.step === '5'")
    assert browser.evaluate("document.body.dataset.kind") == "sum"
    assert cells(browser) == [["5", "15", "10"], ["20", "50", "30"], ["15", "35", "20"]]
    assert cells(browser, "left") == [["1", "2"], ["3", "4"]]
    browser.press("ArrowLeft", 37)
    assert browser.evaluate("document.body.dataset.kind") == "scatter"
    assert cells(browser, "mid") == [["·", "·", "·"], ["·", "20", "20"], ["·", "20", "20"]]
    browser.press("End", 35)
    assert cells(browser) == [["5", "15", "10"], ["20", "50", "30"], ["15", "35", "20"]]
    assert cells(browser, "library-output") == cells(browser)
    shot = browser.command("Page.captureScreenshot", format="png")
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as image:
        assert image.size[0] > 300 and image.size[1] > 300
        assert len(np.unique(np.asarray(image.convert("L")))) > 10  # drawn, not blank
    assert browser.errors == []


def test_pages_without_steps_show_their_tables(browser, tmp_path):
    path = write_page(tmp_path, "max-unpool", "--input", "1 2; 3 4", "--guide",
                      "1 2 4 1; 3 4 2 3; 1 4 1 2; 2 3 4 3")
    browser.open(path.as_uri())
    assert browser.evaluate("document.getElementById('stepper').hidden") is True
    assert cells(browser, "library-output") == [
        ["0", "0", "2", "0"], ["0", "1", "0", "0"], ["0", "3", "0", "0"], ["0", "0", "4", "0"],
    ]  # fmt: skip
    assert browser.errors == []
