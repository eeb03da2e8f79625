#!/usr/bin/env python3
"""Open a local HTML file in headless Chromium through the DevTools protocol over
--remote-debugging-pipe (standard library only). Writes OUTDIR/screenshot.png, OUTDIR/page.pdf
and OUTDIR/dom.html; prints a JSON report: console errors and exceptions, every network request
the page made, and facts read from the DOM (the report's verdict, heat-map cells, gap,
trail-change and timeline rows). Exits 1 if the page logged an error.

usage: browser_check.py FILE.html OUTDIR [settle_ms]
env:   CHROMIUM (default /usr/lib/chromium/chromium), CDP_TIMEOUT seconds (default 30),
       SHOT_WIDTH / SHOT_HEIGHT: the screenshot's size (default 1280 x 2000)"""
import base64, json, os, subprocess, sys, tempfile, time, pathlib
html, outdir = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
settle = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.3
outdir.mkdir(parents=True, exist_ok=True)
chrome = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
prof = tempfile.mkdtemp(prefix="cdp-prof-")
# pipe fds: chromium reads commands on fd 3, writes responses on fd 4
c_r, p_w = os.pipe()   # parent -> chrome
p_r, c_w = os.pipe()   # chrome -> parent
def pre():  # move pipe ends to fd 3 (read) / 4 (write) safely, even if they already overlap 3/4
    a, b = os.dup(c_r), os.dup(c_w); os.dup2(a, 3); os.dup2(b, 4)
proc = subprocess.Popen([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--no-default-browser-check", f"--user-data-dir={prof}", "--remote-debugging-pipe",
    "--window-size=1280,2000", "about:blank"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    pass_fds=(3, 4), preexec_fn=pre, start_new_session=True)
# pass_fds=(3,4): subprocess closes all other fds AFTER preexec_fn, so keep exactly 3/4
os.close(c_r); os.close(c_w)
wf, rf = os.fdopen(p_w, "wb", buffering=0), os.fdopen(p_r, "rb", buffering=0)
FACTS = """(() => {
  const q = (s) => document.querySelectorAll(s);
  const v = document.getElementById('verdict-value');
  return {
    title: document.title,
    verdict: v ? v.textContent : null,
    body_verdict: document.body.dataset.verdict || null,
    heatmaps: q('table.heatmap:not(.drill)').length,
    heatmap_cells: q('table.heatmap:not(.drill) tbody td').length,
    heatmap_rows: q('table.heatmap:not(.drill) tbody tr').length,
    heatmap_unit: (q('table.heatmap:not(.drill)')[0] || {dataset: {}}).dataset.unit || null,
    drill_cells: q('table.heatmap.drill tbody td').length,
    gap_cells: q('table.heatmap:not(.drill) td.g').length,
    change_cells: q('table.heatmap:not(.drill) td.t').length,
    gap_rows: q('#gap-table tr.gap-row').length,
    change_rows: q('#change-table tr.change-row').length,
    change_events: Array.from(q('#change-table tr.change-row td:nth-child(2)')).map(e => e.textContent),
    timeline_rows: q('#timeline tbody tr').length,
    timeline_kinds: Array.from(q('#timeline tbody tr')).map(e => e.className),
    sections: Array.from(q('section')).map(s => s.id),
    outputs: q('#outputs tbody tr').length,
  };
})()"""
buf, nid, events, errors, requests = b"", 0, [], [], []
deadline = time.time() + float(os.environ.get("CDP_TIMEOUT", "30"))
def read_msg():
    global buf
    while b"\0" not in buf:
        if time.time() > deadline: raise TimeoutError("CDP timeout")
        chunk = rf.read(65536)
        if not chunk: raise EOFError("chromium closed pipe")
        buf += chunk
    m, buf = buf.split(b"\0", 1)
    return json.loads(m)
def send(method, params=None, session=None):
    global nid
    nid += 1; my = nid
    msg = {"id": my, "method": method, "params": params or {}}
    if session: msg["sessionId"] = session
    wf.write(json.dumps(msg).encode() + b"\0")
    while True:
        m = read_msg()
        if m.get("id") == my:
            if "error" in m: raise RuntimeError(f"{method}: {m['error']}")
            return m.get("result", {})
        handle(m)
def handle(m):
    meth, p = m.get("method"), m.get("params", {})
    if meth == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
        errors.append({"kind": "console." + p["type"],
            "text": " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])})
    elif meth == "Runtime.exceptionThrown":
        d = p["exceptionDetails"]
        errors.append({"kind": "exception", "text": d.get("exception", {}).get("description", d.get("text")),
                       "line": d.get("lineNumber")})
    elif meth == "Network.requestWillBeSent":
        requests.append(p["request"]["url"])
    elif meth == "Log.entryAdded" and p["entry"]["level"] == "error":
        e = p["entry"]; errors.append({"kind": "log." + e["source"], "text": e["text"], "url": e.get("url")})
    events.append(meth)
try:
    tid = send("Target.createTarget", {"url": "about:blank"})["targetId"]
    sid = send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
    for d in ("Page", "Runtime", "Log", "Network"): send(d + ".enable", session=sid)
    width, height = int(os.environ.get("SHOT_WIDTH", "1280")), int(os.environ.get("SHOT_HEIGHT", "2000"))
    send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                "mobile": False}, session=sid)  # exact PNG size
    send("Page.navigate", {"url": html.as_uri()}, session=sid)
    while "Page.loadEventFired" not in events: handle(read_msg())
    # let timers/promises settle a bit, draining events
    send("Runtime.evaluate", {"expression": f"new Promise(r=>setTimeout(r,{int(settle*1000)}))", "awaitPromise": True}, session=sid)
    shot = send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session=sid)
    (outdir / "screenshot.png").write_bytes(base64.b64decode(shot["data"]))
    pdf = send("Page.printToPDF", {"printBackground": True, "displayHeaderFooter": False}, session=sid)
    (outdir / "page.pdf").write_bytes(base64.b64decode(pdf["data"]))
    dom = send("Runtime.evaluate", {"expression": "'<!DOCTYPE html>\\n'+document.documentElement.outerHTML",
                                    "returnByValue": True}, session=sid)["result"]["value"]
    (outdir / "dom.html").write_text(dom)
    facts = send("Runtime.evaluate", {"expression": FACTS, "returnByValue": True}, session=sid)["result"]["value"]
    try: send("Browser.close")
    except EOFError: pass
finally:
    try: proc.wait(timeout=5)
    except subprocess.TimeoutExpired: os.killpg(proc.pid, 9); proc.wait()
    import shutil; shutil.rmtree(prof, ignore_errors=True)
print(json.dumps({"file": str(html), "errors": errors, "requests": requests, "facts": facts}, indent=1))
sys.exit(1 if errors else 0)
