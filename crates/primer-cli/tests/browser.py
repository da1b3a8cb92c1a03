#!/usr/bin/env python3
"""Opens an HTML page in headless Chromium and reports what a person would see.

    python3 browser.py PAGE.html OUT_DIR [--width 1280] [--height 900] [--timeout 60] [--probe JS]

Speaks the DevTools protocol over --remote-debugging-pipe (NUL-terminated JSON on file
descriptors 3 and 4; standard library only, no TCP port): navigates to the page, waits until
its title starts with "ready" or "failed", collects uncaught exceptions and console errors,
reads every <section>'s id, data-drawn, height and the number of canvases, SVGs and table rows
in it, tries the page as a person would (hovers the progress plot until a point is named,
clicks a row of the top 20 and a node of the lineage), and saves a screenshot of each section (OUT_DIR/SECTION.png) and of the first screen
(OUT_DIR/page.png). Prints one JSON object on stdout: seconds to ready (wall clock, from the
navigation), the page's own performance.now() at ready, the title, errors, sections and
screenshots, and with --probe, the value of the JavaScript expression JS evaluated once the page
is ready and the clicks are done (`probe`). Exit 0 when it could look at the page (the caller
judges what it saw).
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import time


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("browser.py: no chromium on PATH (apt-get install chromium)")


class Browser:
    def __init__(self):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        wanted = self.send(method, params, session)
        deadline = time.time() + timeout
        while True:
            msg = self.read(deadline)
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def close(self):
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    page, out = os.path.abspath(args[0]), args[1]
    opts = {"--width": 1280, "--height": 900, "--timeout": 60}
    for k in opts:
        if k in args:
            opts[k] = int(args[args.index(k) + 1])
    probe_js = args[args.index("--probe") + 1] if "--probe" in args else None
    os.makedirs(out, exist_ok=True)
    b = Browser()
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            b.call(m, session=s)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": opts["--width"], "height": opts["--height"], "deviceScaleFactor": 1, "mobile": False}, s)

        def js(expr):
            r = b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, s)
            return r.get("result", {}).get("value")

        started = time.time()
        b.call("Page.navigate", {"url": "file://" + page}, s)
        title = ""
        while time.time() - started < opts["--timeout"]:
            title = js("document.title") or ""
            if title.startswith("ready") or title.startswith("failed"):
                break
            time.sleep(0.02)
        ready_s = time.time() - started
        page_ms = js("window.__ready_ms === undefined ? null : window.__ready_ms")
        sections = js("""[...document.querySelectorAll('section')].map(e => ({
            id: e.id, drawn: e.dataset.drawn || null,
            height: Math.round(e.getBoundingClientRect().height),
            top: Math.round(e.getBoundingClientRect().top + window.scrollY),
            canvases: e.querySelectorAll('canvas').length, svgs: e.querySelectorAll('svg').length,
            rows: e.querySelectorAll('tr').length, text: e.innerText.length }))""") or []
        # What a person does: hover the progress plot until a point is named, click a row of
        # the top 20 and a node of the lineage; each must open what it promises.
        interactions = js("""(() => {
            const out = { hover: null, row: false, node: false };
            const tip = document.getElementById('tip'), details = document.getElementById('details');
            const canvas = document.querySelector('#progress canvas');
            if (canvas) {
                const r = canvas.getBoundingClientRect();
                search: for (let y = r.top + 5; y < r.bottom; y += 6)
                    for (let x = r.left + 5; x < r.right; x += 6) {
                        canvas.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: y, bubbles: true }));
                        if (!tip.hidden) { out.hover = tip.textContent; break search; }
                    }
                canvas.dispatchEvent(new MouseEvent('mouseleave'));
            }
            const row = document.querySelector('#best tr.click');
            if (row) { row.click(); out.row = !details.hidden && details.innerText.includes('Candidate'); details.hidden = true; }
            const node = document.querySelector('#lineage .node');
            if (node) { node.dispatchEvent(new MouseEvent('click', { bubbles: true })); out.node = !details.hidden && details.innerText.includes('Program'); details.hidden = true; }
            return out; })()""")
        probe = js(probe_js) if probe_js else None
        shots = []
        shot = b.call("Page.captureScreenshot", {"format": "png"}, s)
        with open(os.path.join(out, "page.png"), "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        shots.append("page.png")
        for sec in sections:
            clip = {"x": 0, "y": sec["top"], "width": opts["--width"], "height": max(1, min(sec["height"], 2400)), "scale": 1}
            shot = b.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}, s)
            name = sec["id"] + ".png"
            with open(os.path.join(out, name), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            shots.append(name)
        # Events that arrived while we waited, and any still in the pipe.
        errors = []
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append("log: " + p["entry"].get("text", ""))
        print(json.dumps({"page": page, "title": title, "ready_s": round(ready_s, 3), "page_ready_ms": page_ms,
                          "errors": errors, "sections": sections, "interactions": interactions, "probe": probe,
                          "screenshots": shots}, indent=1))
    finally:
        b.close()


if __name__ == "__main__":
    main()
