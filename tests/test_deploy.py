"""A deployment that holds a class (issue 18): two replicas behind nginx, each browser kept on
one replica, the proxy's limits (deploy/README.md).

``tools.deploy`` starts two ``streamlit run app.py`` replicas and a private nginx on free ports
of 127.0.0.1, on the small checkpoints of the ``app_checkpoints`` fixture. The load test
(``tools.loadtest``) then drives 40 sessions for 30 s through nginx, each session one browser
that keeps nginx's routing cookie, and the same load on one replica directly; nginx's access
log says which replica served every request. The same comparison, on the shipped checkpoints:

    python -m tools.deploy compare --sessions 40 --seconds 30
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("websockets", reason="websockets is not installed (a dependency of streamlit)")

from tools import deploy  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.access(deploy.NGINX, os.X_OK),
                                 reason=f"{deploy.NGINX} is missing (Debian's nginx package; bash scripts/dev.sh test installs it)")]

SESSIONS, SECONDS = 40, 30


@pytest.fixture(scope="module")
def deployment(app_checkpoints, tmp_path_factory):
    with deploy.Deployment(app_checkpoints, replicas=2, run_dir=tmp_path_factory.mktemp("deploy"),
                           log=lambda m: None) as dep:
        yield dep


def test_forty_sessions_through_nginx_each_stay_on_one_replica(deployment):
    r = deploy.compare(deployment, sessions=SESSIONS, seconds=SECONDS, per_page=4, log=lambda m: None)
    print("\n" + deploy.format_compare(r))
    proxied, direct, stick = r["proxied"], r["one_replica"], r["stickiness"]
    assert proxied["errors"] == 0, proxied["error_messages"]
    assert r["server_problems"] == [], r["server_problems"]
    assert proxied["page_loads"] >= SESSIONS
    assert all(proxied["latency_by_kind"][k]["n"] >= 10 for k in ("grid", "map", "slider")), proxied["latency_by_kind"]
    # every session got one route cookie on its first request and kept it ...
    assert all(len(c.get(deploy.ROUTE_COOKIE, [])) == 1 for c in proxied["cookies_by_session"])
    assert stick["sessions_first_request_only_without_cookie"] == SESSIONS, stick
    # ... and every request it made (pages, websockets, images) reached one replica
    assert stick["sessions"] == SESSIONS and stick["changed_replica"] == 0, stick
    assert stick["websockets"] >= proxied["page_loads"] and stick["media"] >= proxied["interactions"], stick
    assert len(stick["sessions_by_replica"]) == 2, stick   # both replicas took sessions
    # the one-replica figure beside it: the same load test, no proxy, no cookies needed
    assert direct["interactions"] > 0 and all(c == {} for c in direct["cookies_by_session"])


def test_the_proxy_limits_uploads_and_hides_metrics(deployment):
    probed = deploy.probe(deployment)
    print("\nproxy edges: " + ", ".join(f"{k} {v}" for k, v in probed.items()))
    assert probed["upload_via_proxy"] == 204
    # the session lives on exactly one replica: there the upload lands, the other knows no such session
    assert sorted(probed["upload_to_each_replica"]) == [204, 400]
    assert probed["upload_too_large"] == 413 and probed["body_too_large_elsewhere"] == 413
    assert probed["metrics_via_proxy"] == 404 and probed["metrics_on_a_replica"] == 200
    # one address: the burst goes through at once, then the rate holds the rest back
    rapid = probed["rapid_uploads"]
    assert rapid.get("204", 0) >= deployment.limits.upload_burst and rapid.get("429", 0) >= 5, rapid


def test_the_site_renders_for_several_hosts():
    site = deploy.site_conf(["10.0.0.2:8601", "10.0.0.3:8601"], "80", "/var/log/nginx/le.log",
                            server_name="class.example.org")
    assert f"server 10.0.0.2:8601 {deploy.SERVER_FAILS};" in site and f"server 10.0.0.3:8601 {deploy.SERVER_FAILS};" in site
    assert "hash $le_route consistent;" in site and "server_name class.example.org;" in site
    assert f"client_max_body_size {deploy.upload_limit_mb()}m;" in site   # the app's limit, plus the framing


def test_nginx_drops_an_idle_replica_connection_before_the_replica_does():
    """The CI failure of 2026-12-03: 44 images 404 in 40 sessions. nginx kept idle connections
    to a replica for its default 60 s, uvicorn closes them after 5 s; a request sent on one as it
    closed was reset ("recv() failed (104)"), nginx counted the replica failed (max_fails=1) and for
    10 s sent its sessions to the other replica, which knows none of their images."""
    import inspect
    import re

    import uvicorn
    from streamlit.web.server.starlette import starlette_server

    replica_s = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    assert "timeout_keep_alive" not in starlette_server._get_uvicorn_config_kwargs()   # Streamlit keeps uvicorn's
    site = deploy.site_conf(["127.0.0.1:8601"], "80", "/tmp/le.log")
    upstream = site[site.index("upstream latent_explorer {"):]
    upstream = upstream[:upstream.index("}")]
    found = re.search(r"keepalive_timeout (\d+)s;", upstream)
    assert found and int(found.group(1)) < replica_s, (upstream, replica_s)
    fails = re.search(r"max_fails=(\d+)", upstream)
    assert fails and int(fails.group(1)) > 1, upstream   # one stray failure does not move a class
