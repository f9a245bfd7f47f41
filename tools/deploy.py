"""A server that holds a class: several Streamlit replicas on one host behind nginx, each
browser kept on one replica (deploy/README.md is the guide).

    python -m tools.deploy serve [--replicas 2] [--listen 127.0.0.1:8080] [--checkpoints DIR]
    python -m tools.deploy site --servers 10.0.0.2:8501 10.0.0.3:8501 [--listen 80]
    python -m tools.deploy compare [--replicas 2] [--sessions 40] [--seconds 30]

``serve`` starts the replicas (``streamlit run app.py`` on 127.0.0.1, ports from
``--first-port``, one shared cookie secret) and a private nginx in front of them, all in
the foreground until Ctrl-C. ``site`` prints the nginx site for the machine's own nginx,
for replicas started elsewhere (``serve --no-proxy``), on this host or on several.
``compare`` starts a deployment on free ports and runs the load test (``tools.loadtest``)
through nginx, checks from nginx's access log that every session stayed on one replica,
runs the same load test on one replica directly, and tries the proxy's limits.

The nginx configuration is rendered from ``deploy/latent-explorer.conf.template`` (the
site) and ``deploy/nginx.conf.template`` (the private nginx around it).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import io
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tools.common import ROOT

DEPLOY = ROOT / "deploy"
NGINX = "/usr/sbin/nginx"
ROUTE_COOKIE = "le_route"                       # the routing cookie the site's nginx sets
ENV_SECRET = "STREAMLIT_SERVER_COOKIE_SECRET"   # Streamlit reads server.cookieSecret from it
# nginx's default (max_fails=1) takes a replica out for 10 s after one failed request, and
# for those 10 s every session hashed to it lands on the other replica, where its images are
# 404: one stray reset then breaks half a class. Three failures in 10 s mean a replica is down.
SERVER_FAILS = "max_fails=3 fail_timeout=10s"
XSRF_COOKIE = "_streamlit_xsrf"


@dataclass(frozen=True)
class Limits:
    """What the proxy allows (deploy/README.md says why)."""

    upload_rate: str = "10r/m"   # uploads per client address, sustained
    upload_burst: int = 30       # ... and at once: a class behind one school address
    body: str = "64k"            # any other request body


DEFAULT_LIMITS = Limits()


def upload_limit_mb(config: Path = ROOT / ".streamlit" / "config.toml") -> int:
    """nginx's body limit for uploads, in MB: the app's ``server.maxUploadSize`` (Streamlit's
    default when unset) plus 1 MB for the multipart framing (Streamlit allows the same margin)."""
    return int(tomllib.loads(config.read_text()).get("server", {}).get("maxUploadSize", 200)) + 1


def render(template: Path, **values: str) -> str:
    """The template with every ``@NAME@`` replaced by ``values[name]``; all must be given."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name.upper()}@", value)
    left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if left:
        raise ValueError(f"{template.name}: no value for {', '.join(left)}")
    return text


def site_conf(servers: list[str], listen: str, access_log: str, limits: Limits = DEFAULT_LIMITS,
              server_name: str = "_") -> str:
    """The nginx site (an http-block snippet) in front of ``servers`` (``host:port`` each)."""
    return render(DEPLOY / "latent-explorer.conf.template", servers="\n".join(f"    server {s} {SERVER_FAILS};" for s in servers),
                  listen=listen, server_name=server_name, access_log=access_log, upload_rate=limits.upload_rate,
                  upload_burst=str(limits.upload_burst), body_limit=limits.body, upload_limit=f"{upload_limit_mb()}m")


def cookie_secret() -> str:
    """The secret every replica signs its cookies with: ``$STREAMLIT_SERVER_COOKIE_SECRET``, or a
    new random one (then valid only until the replicas restart, which ends their sessions anyway)."""
    return os.environ.get(ENV_SECRET) or secrets.token_hex(32)


def _get(url: str, timeout: float = 2) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


# --------------------------------------------------------------------------- the deployment

class Deployment:
    """Replicas and (unless ``proxy=False``) nginx, started together and stopped together.

    ``with Deployment(checkpoints, replicas=2) as d:`` -> ``d.url`` (nginx), ``d.replica_urls``,
    ``d.access_log``. Ports: ``first_port``, ``first_port + 1``, ... for the replicas (free
    ones when None) and ``listen`` (``host:port``; a free port of 127.0.0.1 when None) for
    nginx. Everything the processes write goes to ``run_dir`` (a new temporary folder when
    None), which is kept for reading afterwards.
    """

    def __init__(self, checkpoints: str | Path | None = None, *, replicas: int = 2, first_port: int | None = None,
                 address: str = "127.0.0.1", listen: str | None = None, proxy: bool = True,
                 limits: Limits = DEFAULT_LIMITS, run_dir: Path | None = None, log=print):
        from tools.browser import free_port

        self.checkpoints = checkpoints
        self.address = address
        self.ports = [first_port + i if first_port else free_port() for i in range(replicas)]
        self.listen = listen or f"127.0.0.1:{free_port()}"
        self.proxy = proxy
        self.limits = limits
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="latent-explorer-deploy-")).resolve()
        self.log = log
        self.replicas: list = []
        self.nginx: subprocess.Popen | None = None
        host = "127.0.0.1" if address in ("0.0.0.0", "") else address
        self.replica_urls = [f"http://{host}:{p}" for p in self.ports]
        lhost, _, lport = self.listen.rpartition(":")
        self.url = f"http://{'127.0.0.1' if lhost in ('', '0.0.0.0', '*') else lhost}:{lport}"
        self.access_log = self.run_dir / "access.log"
        self.error_log = self.run_dir / "error.log"

    def replica_log(self, port: int) -> Path:
        return self.run_dir / f"replica-{port}.log"

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        from tools import browser

        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {ENV_SECRET: cookie_secret()}   # in the environment, not on a command line `ps` shows
        t0 = time.perf_counter()

        def one(port: int):
            return browser.start_server(self.checkpoints, port, address=self.address, env=env,
                                        log=self.replica_log(port))[0]

        with ThreadPoolExecutor(len(self.ports)) as pool:   # each waits for its health check
            futures = [pool.submit(one, p) for p in self.ports]
        self.replicas = [f.result() for f in futures if f.exception() is None]   # to stop them, if one failed
        failed = [f.exception() for f in futures if f.exception() is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(futures)} replicas did not start") from failed[0]
        self.log(f"{len(self.ports)} replicas up in {time.perf_counter() - t0:.1f} s: {' '.join(self.replica_urls)}"
                 f" (output in {self.run_dir}/replica-*.log)")
        if self.proxy:
            self._start_nginx()
            self.log(f"nginx up: {self.url} (access log {self.access_log})")

    def _start_nginx(self, timeout: float = 20) -> None:
        if not os.access(NGINX, os.X_OK):
            raise FileNotFoundError(f"{NGINX} is missing: apt-get install nginx")
        site = self.run_dir / "latent-explorer.conf"
        site.write_text(site_conf([u.removeprefix("http://") for u in self.replica_urls], self.listen,
                                  str(self.access_log), self.limits))
        # started by root, nginx would hand its workers to `nobody`, who cannot write this folder
        me = pwd.getpwuid(os.geteuid()).pw_name
        user = f"user {me};" if os.geteuid() == 0 else f"# the workers run as {me}, who started nginx"
        (self.run_dir / "nginx.conf").write_text(
            render(DEPLOY / "nginx.conf.template", user=user, run_dir=str(self.run_dir), site=str(site)))
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        cmd = [NGINX, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"), "-e", str(self.error_log)]
        check = subprocess.run([*cmd, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused the configuration:\n{check.stderr}")
        self.nginx = subprocess.Popen([*cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError("nginx exited:\n" + self.error_log.read_text(errors="replace")[-3000:])
            try:
                if _get(self.url + "/_stcore/health") == b"ok":
                    # nginx logs a request just after answering it: wait for the line, so that
                    # a mark() taken now comes after it
                    while not self.access_lines() and time.time() < deadline:
                        time.sleep(0.01)
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"nginx did not answer at {self.url}")

    def stop(self) -> None:
        """nginx first (no new requests), then the replicas."""
        from tools import browser

        if self.nginx is not None and self.nginx.poll() is None:
            os.killpg(self.nginx.pid, signal.SIGTERM)   # fast shutdown: open websockets are cut
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.nginx.pid, signal.SIGKILL)
                self.nginx.wait()
        for proc in self.replicas:
            browser.stop_server(proc)
        self.replicas = []

    # ----------------------------------------------------------------------- what they wrote

    def mark(self) -> dict[Path, int]:
        """How long each log is now, to read only what comes after (``problems``, ``access_lines``)."""
        logs = [self.access_log, self.error_log] + [self.replica_log(p) for p in self.ports]
        return {p: p.stat().st_size if p.exists() else 0 for p in logs}

    def _since(self, path: Path, mark: dict[Path, int] | None) -> str:
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek((mark or {}).get(path, 0))
            return f.read().decode(errors="replace")

    def problems(self, mark: dict[Path, int] | None = None) -> list[str]:
        """Tracebacks in the replicas' output and nginx errors, since ``mark``."""
        found = []
        for port in self.ports:
            text = self._since(self.replica_log(port), mark)
            if "Traceback" in text:
                found.append(f"replica {port} logged a traceback:\n{text[text.index('Traceback'):][:1500]}")
        found += [f"nginx: {line}" for line in self._since(self.error_log, mark).splitlines()
                  if any(f"[{level}]" in line for level in ("error", "crit", "alert", "emerg"))][:10]
        return found

    def access_lines(self, mark: dict[Path, int] | None = None) -> list[AccessLine]:
        return [AccessLine.parse(line) for line in self._since(self.access_log, mark).splitlines() if line.strip()]


@dataclass(frozen=True)
class AccessLine:
    """One request in the site's access log (its ``le_route`` format)."""

    method: str
    uri: str
    status: int
    route: str       # the route it was hashed on
    cookie: str      # the le_route cookie it came with ("" for none)
    upstream: str    # the replica(s) nginx tried, "" for none

    @staticmethod
    def parse(line: str) -> AccessLine:
        _, _, method, uri, status, route, cookie, upstream, _ = line.split("\t")
        return AccessLine(method, uri, int(status), route, "" if cookie == "-" else cookie,
                          "" if upstream == "-" else upstream)


def stickiness(lines: list[AccessLine], cookies_by_session: list[dict]) -> dict:
    """Whether every session of a load test stayed on one replica, from nginx's access log.

    ``cookies_by_session``: the load test's record of every value each session's cookies took.
    A session is sticky when it only ever had one route cookie and every request with that
    route (page, websocket, media) went to one and the same replica. Only its first request
    comes without the cookie. Requests of no session are listed apart (``others``).
    """
    by_route: dict[str, list[AccessLine]] = {}
    for line in lines:
        by_route.setdefault(line.route, []).append(line)
    sessions = []
    for history in cookies_by_session:
        routes = history.get(ROUTE_COOKIE, [])
        seen = [line for r in routes for line in by_route.get(r, [])]
        upstreams = {u.strip() for line in seen for u in line.upstream.split(",") if u.strip()}
        sessions.append({"routes": len(routes), "replicas": sorted(upstreams), "requests": len(seen),
                         "without_cookie": sum(1 for line in seen if not line.cookie),
                         "websockets": sum(1 for line in seen if line.uri == "/_stcore/stream" and line.status == 101),
                         "media": sum(1 for line in seen if line.uri.startswith("/media/"))})
    used: dict[str, int] = {}
    for s in sessions:
        for u in s["replicas"]:
            used[u] = used.get(u, 0) + 1
    changed = [i for i, s in enumerate(sessions) if s["routes"] != 1 or len(s["replicas"]) != 1]
    mine = {r for history in cookies_by_session for r in history.get(ROUTE_COOKIE, [])}
    return {"sessions": len(sessions), "changed_replica": len(changed), "changed_sessions": changed[:10],
            "sessions_by_replica": dict(sorted(used.items())),
            "requests": sum(s["requests"] for s in sessions),
            "websockets": sum(s["websockets"] for s in sessions), "media": sum(s["media"] for s in sessions),
            "without_cookie": sum(s["without_cookie"] for s in sessions),
            "sessions_first_request_only_without_cookie": sum(1 for s in sessions if s["without_cookie"] == 1),
            "others": [f"{line.method} {line.uri} {line.status} cookie={line.cookie or '-'} -> {line.upstream or '-'}"
                       for line in lines if line.route not in mine][:10]}


# --------------------------------------------------------------------------- the checks

def compare(dep: Deployment, *, sessions: int = 40, seconds: float = 30, per_page: int = 4, log=print) -> dict:
    """The load test through nginx, its stickiness from the access log, then the same load test
    on the first replica alone (warm by then: the comparison does not flatter the proxy)."""
    from tools.browser import RssMonitor
    from tools.loadtest import run_load_test

    if dep.checkpoints is None:
        raise ValueError("compare needs the deployment's checkpoint folder")
    mark = dep.mark()
    proxied = run_load_test(Path(dep.checkpoints), sessions=sessions, seconds=seconds, per_page=per_page,
                            log=log, url=dep.url)
    # nginx logs a websocket when it closes, a moment after the client let go
    deadline = time.time() + 5
    while time.time() < deadline:
        lines = dep.access_lines(mark)
        if sum(1 for line in lines if line.uri == "/_stcore/stream") >= proxied["page_loads"]:
            break
        time.sleep(0.2)
    stick = stickiness(dep.access_lines(mark), proxied["cookies_by_session"])
    problems = dep.problems(mark)
    rss = [round(RssMonitor(proc.pid).sample()) for proc in dep.replicas]
    mark = dep.mark()
    direct = run_load_test(Path(dep.checkpoints), sessions=sessions, seconds=seconds, per_page=per_page,
                           log=log, url=dep.replica_urls[0])
    return {"replicas": len(dep.ports), "proxied": proxied, "one_replica": direct, "stickiness": stick,
            "replica_rss_mb": rss, "server_problems": problems + dep.problems(mark)}


def _request(base: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
             length: int | None = None) -> int:
    """The status of one request; ``length`` announces a body that is never sent (nginx answers a
    too-large Content-Length before reading any of it)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
    try:
        conn.putrequest(method, path)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body) if length is None else length))
        conn.endheaders()
        if body and length is None:
            conn.send(body)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def _multipart(data: bytes, name: str = "digit.png", kind: str = "image/png") -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {kind}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def probe(dep: Deployment) -> dict:
    """Try the proxy's edges with one browser's session: an upload through nginx, the same
    upload sent to each replica directly, an upload and a body too large, the metrics page,
    and uploads faster than the rate allows. Returns the HTTP statuses seen.

    Run it last: the rapid uploads spend this address's upload burst for minutes.
    """
    import numpy as np
    from PIL import Image

    from tools.loadtest import AppClient, CookieJar, fetch

    async def run() -> dict:
        jar = CookieJar()
        fetch(dep.url, "/", jar)                  # the page: the route cookie
        fetch(dep.url, "/_stcore/health", jar)    # as the page's script does: the XSRF cookie
        client = AppClient(dep.url, jar)
        await client.open("", "")
        try:
            png = io.BytesIO()
            Image.fromarray(np.zeros((28, 28), np.uint8)).save(png, "PNG")
            kind, body = _multipart(png.getvalue())
            headers = {**jar.headers(), "Content-Type": kind, "X-Xsrftoken": jar.values.get(XSRF_COOKIE, "")}
            path = f"/_stcore/upload_file/{client.session_id}/{uuid.uuid4()}"
            out = {"upload_via_proxy": _request(dep.url, "PUT", path, headers, body),
                   "upload_to_each_replica": [_request(u, "PUT", path, headers, body) for u in dep.replica_urls]}
            out["upload_too_large"] = _request(dep.url, "PUT", path, headers, length=(upload_limit_mb() + 1) * 2**20)
            out["body_too_large_elsewhere"] = _request(dep.url, "POST", "/", jar.headers(), length=2**20)
            out["metrics_via_proxy"] = _request(dep.url, "GET", "/_stcore/metrics")
            out["metrics_on_a_replica"] = _request(dep.replica_urls[0], "GET", "/_stcore/metrics")
            delete = f"/_stcore/upload_file/{client.session_id}/{uuid.uuid4()}"
            statuses = [_request(dep.url, "DELETE", delete, headers) for _ in range(dep.limits.upload_burst + 10)]
            out["rapid_uploads"] = {str(s): statuses.count(s) for s in sorted(set(statuses))}
            return out
        finally:
            await client.close()

    return asyncio.run(run())


# --------------------------------------------------------------------------- reports

def format_compare(r: dict, probed: dict | None = None) -> str:
    from tools.loadtest import format_report

    p, d, s = r["proxied"], r["one_replica"], r["stickiness"]
    lines = [f"through nginx, {r['replicas']} replicas:", format_report(p), "", "one replica directly:",
             format_report(d), "",
             f"p95 latency: {p['latency']['p95_ms']:.0f} ms through nginx ({r['replicas']} replicas), "
             f"{d['latency']['p95_ms']:.0f} ms on one replica; median {p['latency']['median_ms']:.0f} vs "
             f"{d['latency']['median_ms']:.0f} ms; interactions {p['interactions']} vs {d['interactions']}",
             f"stickiness (nginx access log): {s['sessions']} sessions, {s['changed_replica']} changed replica; "
             f"sessions per replica {s['sessions_by_replica']}; {s['requests']} requests of theirs "
             f"({s['websockets']} websockets, {s['media']} images), {s['without_cookie']} without the cookie"
             + (f"; requests of no session: {s['others']}" if s["others"] else ""),
             f"replica memory after the load through nginx: {', '.join(f'{m} MB' for m in r['replica_rss_mb'])}"]
    lines += [f"SERVER PROBLEM: {m}" for m in r["server_problems"]]
    if probed:
        lines.append("proxy edges: " + ", ".join(f"{k} {v}" for k, v in probed.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def replicas_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints",
                       help="checkpoint folder the replicas read (default: checkpoints/)")
        p.add_argument("--replicas", type=int, default=2, help="Streamlit processes (default: 2)")

    serve = commands.add_parser("serve", help="start replicas and nginx in the foreground (Ctrl-C stops them)")
    replicas_args(serve)
    serve.add_argument("--first-port", type=int, default=8601, help="the first replica's port (default: 8601)")
    serve.add_argument("--address", default="127.0.0.1",
                       help="the interface the replicas listen on (default: 127.0.0.1; another host's nginx "
                            "needs a private address here)")
    serve.add_argument("--listen", default="127.0.0.1:8080",
                       help="nginx's address (default: 127.0.0.1:8080; a class needs 0.0.0.0:PORT)")
    serve.add_argument("--no-proxy", action="store_true", help="start the replicas only (nginx runs elsewhere)")
    serve.add_argument("--run-dir", type=Path, default=None, help="for logs and nginx's files (default: a new temp folder)")

    site = commands.add_parser("site", help="print the nginx site for the machine's nginx")
    site.add_argument("--servers", nargs="+", default=["127.0.0.1:8601", "127.0.0.1:8602"],
                      help="the replicas, host:port each (default: 127.0.0.1:8601 127.0.0.1:8602)")
    site.add_argument("--listen", default="80", help="nginx's listen address (default: 80)")
    site.add_argument("--server-name", default="_",
                      help="the class's host name, e.g. class.example.org (default: _, any; Debian's default "
                           "site claims that too: remove it)")
    site.add_argument("--access-log", default="/var/log/nginx/latent-explorer.access.log",
                      help="(default: /var/log/nginx/latent-explorer.access.log)")

    for p in (serve, site):
        p.add_argument("--upload-rate", default=Limits.upload_rate,
                       help=f"uploads per client address, sustained (default: {Limits.upload_rate})")
        p.add_argument("--upload-burst", type=int, default=Limits.upload_burst,
                       help=f"uploads per client address at once (default: {Limits.upload_burst})")

    cmp = commands.add_parser("compare", help="load test through nginx vs one replica, stickiness, limits")
    replicas_args(cmp)
    cmp.add_argument("--sessions", type=int, default=40, help="concurrent sessions (default: 40)")
    cmp.add_argument("--seconds", type=float, default=30, help="how long each load test runs (default: 30)")
    cmp.add_argument("--per-page", type=int, default=4, help="interactions per page before the next (default: 4)")
    args = parser.parse_args(argv)

    if args.command == "site":
        print(site_conf(args.servers, args.listen, args.access_log, Limits(args.upload_rate, args.upload_burst),
                        args.server_name), end="")
        return 0
    if args.command == "compare":
        with Deployment(args.checkpoints, replicas=args.replicas) as dep:
            report = compare(dep, sessions=args.sessions, seconds=args.seconds, per_page=args.per_page)
            probed = probe(dep)
        print(format_compare(report, probed))
        ok = report["proxied"]["errors"] == 0 and report["stickiness"]["changed_replica"] == 0
        return 0 if ok and not report["server_problems"] else 1
    dep = Deployment(args.checkpoints, replicas=args.replicas, first_port=args.first_port, address=args.address,
                     listen=args.listen, proxy=not args.no_proxy, run_dir=args.run_dir,
                     limits=Limits(args.upload_rate, args.upload_burst))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # `systemctl stop`: stop the replicas too
    with dep:
        print(f"serving {dep.url if dep.proxy else ' '.join(dep.replica_urls)}; Ctrl-C stops it", flush=True)
        try:
            while all(p.poll() is None for p in dep.replicas) and (dep.nginx is None or dep.nginx.poll() is None):
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
    print("a process exited; everything is stopped (logs in " + str(dep.run_dir) + ")", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
