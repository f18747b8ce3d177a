#!/usr/bin/env python3
"""fake_ari_proxy.py — a FAKE, for tests only: NOT an ACME server, NOT a model of any CA.

Pebble 2.4 (Debian's) has neither ACME Renewal Information (ARI, RFC 9773) nor certificate profiles
(draft-ietf-acme-profiles; Pebble added them in 2.6 / 2.7). This HTTPS reverse proxy sits in front
of a real Pebble and fakes exactly those two things, so the client's ARI and profile code can be
tested end to end while everything else (accounts, orders, challenges, issuance) stays real Pebble:

  * Every request is forwarded with its Host header unchanged. Pebble builds the URLs it returns from
    the request's Host and checks each JWS "url" against Host + path, so all URLs a client sees point
    at this proxy, and JWS signed for proxy URLs verify at Pebble.
  * GET /dir: Pebble's directory plus "renewalInfo": "https://HOST/renewal-info" and
    meta.profiles {"classic": ..., "shortlived": ...} (Pebble's other meta kept).
  * GET /renewal-info/<certID>: {"suggestedWindow": {"start", "end"}} (+ explanationURL) with a
    Retry-After header. certID = base64url(AKI keyIdentifier) "." base64url(serial DER content),
    RFC 9773 §4.1. Malformed IDs, and IDs of certificates this proxy did not see downloaded (unless
    --accept-any-cert-id), get 404.
  * newOrder with a "profile" the directory does not advertise gets 400 invalidProfile (not
    forwarded); orders created with a profile carry "profile" in the order objects returned.
    "replaces" is logged (and, with --strict-replaces, checked: unknown -> 400 malformed, already
    replaced by a valid order -> 409 alreadyReplaced). Pebble ignores both fields (checked
    empirically: Go's JSON decoding drops unknown fields).
  * Every request is one JSON line in --log: method, path, endpoint name, status (+ the problem type
    of error answers), and for JWS POSTs the decoded protected header and payload.
  * Fault injection: --rate-limit-once SUBSTR (429 rateLimited + Retry-After: 2, or an HTTP-date with
    --retry-after-date), --unavailable-once [SUBSTR] (503 + Retry-After, text body). Error answers
    carry a fresh Replay-Nonce from Pebble, as a real server's do.
  * Control (tests only, same port): GET /_fake/ping; POST /_fake/window {"start", "end",
    "retry_after", "explanation_url", "cert_id" (optional: only for that certificate)};
    POST /_fake/fault {"status": 429|503, "match": SUBSTR, "count": N, "retry_after": "2" | "date"};
    GET /_fake/known (certIDs seen).

Times for --window-start/--window-end and the control endpoint: RFC 3339 ("2030-01-02T03:04:05Z"),
or a signed number of seconds from now ("+3600", "-60"), evaluated when given.

python3 standard library only (http.server, ssl, http.client).
"""

import argparse
import base64
import email.utils
import http.client
import http.server
import json
import re
import socketserver
import ssl
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length", "host", "expect",
}
CERT_ID_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
ERR = "urn:ietf:params:acme:error:"


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def parse_time(text):
    """RFC 3339, or +/-seconds from now. Returns an aware datetime (UTC)."""
    text = str(text).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return datetime.now(timezone.utc) + timedelta(seconds=int(text))
    t = text.replace("Z", "+00:00").replace("z", "+00:00")
    d = datetime.fromisoformat(t)
    if d.tzinfo is None:
        raise ValueError("time without a zone: %s" % text)
    return d.astimezone(timezone.utc)


def rfc3339(d):
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- just enough DER to find a certificate's serial and AKI keyIdentifier -------------------------

def der_tlv(buf, i):
    """(tag, content_start, content_end) of the TLV at buf[i]."""
    tag = buf[i]
    n = buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, i, i + n


def der_children(buf, start, end):
    out = []
    i = start
    while i < end:
        tag, s, e = der_tlv(buf, i)
        out.append((tag, s, e))
        i = e
    return out


def cert_id_of_der(der):
    """RFC 9773 certID of a DER certificate, or None."""
    try:
        _, s, e = der_tlv(der, 0)                      # Certificate
        _, ts, te = der_children(der, s, e)[0]         # tbsCertificate
        tbs = der_children(der, ts, te)
        k = 1 if tbs[0][0] == 0xA0 else 0              # [0] version is optional
        serial = der[tbs[k][1]:tbs[k][2]]
        keyid = None
        for tag, xs, xe in tbs:
            if tag != 0xA3:                            # [3] extensions
                continue
            _, ls, le = der_tlv(der, xs)
            for _, es, ee in der_children(der, ls, le):
                parts = der_children(der, es, ee)
                if der[parts[0][1]:parts[0][2]] != b"\x55\x1d\x23":    # 2.5.29.35 AKI
                    continue
                _, os_, oe = parts[-1]                 # extnValue OCTET STRING
                _, ss, se = der_tlv(der, os_)          # AuthorityKeyIdentifier SEQUENCE
                for t2, cs, ce in der_children(der, ss, se):
                    if t2 == 0x80:                     # [0] keyIdentifier
                        keyid = der[cs:ce]
        if keyid is None or not serial:
            return None
        return b64url(keyid) + "." + b64url(serial)
    except (IndexError, ValueError):
        return None


def first_pem_der(text):
    m = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", text, re.S)
    if not m:
        return None
    return base64.b64decode("".join(m.group(1).split()))


# --- state ----------------------------------------------------------------------------------------

class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.seq = 0
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        self.window = {
            "start": parse_time(args.window_start),
            "end": parse_time(args.window_end),
            "retry_after": args.retry_after,
            "explanation_url": args.explanation_url,
        }
        self.cert_windows = {}   # certID -> window dict
        self.known = {}          # certID -> {"serial": hex}
        self.replaced = set()    # certIDs replaced by a valid order (for --strict-replaces)
        self.faults = []         # dicts: status, match, count, retry_after
        if args.rate_limit_once is not None:
            self.faults.append({"status": 429, "match": args.rate_limit_once, "count": 1,
                                "retry_after": "date" if args.retry_after_date else "2"})
        if args.unavailable_once is not None:
            self.faults.append({"status": 503, "match": args.unavailable_once, "count": 1,
                                "retry_after": "date" if args.retry_after_date else "2"})
        self.order_profile = {}  # finalize URL path -> profile
        self.order_replaces = {}  # finalize URL path -> certID
        self.paths = {}          # Pebble's directory: path -> endpoint name
        self.nonce_path = "/nonce-plz"
        self.profiles = None if args.no_profiles else {
            "classic": "FAKE (proxy): Pebble's usual certificate",
            "shortlived": "FAKE (proxy): the same certificate; Pebble 2.4 cannot shorten it",
        }

    def record(self, rec):
        with self.lock:
            self.seq += 1
            rec = dict(rec, seq=self.seq, time=rfc3339(datetime.now(timezone.utc)))
            if self.log:
                self.log.write(json.dumps(rec, sort_keys=True) + "\n")
                self.log.flush()

    def take_fault(self, path):
        with self.lock:
            for f in self.faults:
                if f["count"] > 0 and f["match"] in path:
                    f["count"] -= 1
                    return dict(f)
        return None


ENDPOINT_PREFIXES = [
    ("/my-order/", "order"), ("/authZ/", "authz"), ("/chalZ/", "challenge"),
    ("/finalize-order/", "finalize"), ("/certZ/", "certificate"), ("/my-account/", "account"),
    ("/list-orderz/", "orders"), ("/renewal-info/", "renewalInfo"), ("/_fake/", "control"),
]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_ari_proxy"
    sys_version = ""

    # quiet: the JSON log is the record
    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    @property
    def st(self):
        return self.server.state

    def endpoint(self, path):
        p = path.split("?", 1)[0]
        if p == "/dir":
            return "directory"
        if p in self.st.paths:
            return self.st.paths[p]
        for prefix, name in ENDPOINT_PREFIXES:
            if p.startswith(prefix):
                return name
        return "other"

    # --- plumbing ---

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=b"", headers=(), content_type=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        seen_ct = False
        for k, v in headers:
            if k.lower() in HOP_BY_HOP or k.lower() in ("date", "server"):
                continue
            if k.lower() == "content-type":
                seen_ct = True
            self.send_header(k, v)
        if content_type and not seen_ct:
            self.send_header("Content-Type", content_type)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def upstream(self, method, path, body, headers):
        a = self.st.args
        u = urlsplit(a.upstream)
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, context=self.server.up_ctx,
                                           timeout=60)
        try:
            conn.request(method, path, body=body if body else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, r.getheaders(), data
        finally:
            conn.close()

    def fresh_nonce(self):
        try:
            _, hdrs, _ = self.upstream("HEAD", self.st.nonce_path, b"",
                                       {"Host": self.headers.get("Host", "")})
            for k, v in hdrs:
                if k.lower() == "replay-nonce":
                    return v
        except OSError:
            pass
        return None

    def problem(self, status, ptype, detail, extra_headers=(), rec=None):
        body = json.dumps({"type": ERR + ptype, "detail": detail, "status": status})
        hdrs = list(extra_headers)
        nonce = self.fresh_nonce()
        if nonce:
            hdrs.append(("Replay-Nonce", nonce))
        hdrs.append(("Cache-Control", "no-store"))
        self.send(status, body, hdrs, "application/problem+json")
        if rec is not None:
            rec["status"] = status
            self.st.record(rec)

    # --- request handling ---

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        path = self.path
        body = self.read_body() if self.command == "POST" else b""
        rec = {"method": self.command, "path": path, "endpoint": self.endpoint(path)}
        jws = None
        if self.command == "POST" and body and rec["endpoint"] != "control":
            jws = self.decode_jws(body, rec)

        if path.startswith("/_fake/"):
            return self.control(path, body, rec)

        fault = self.st.take_fault(path)
        if fault is not None:
            return self.inject(fault, rec)

        if self.command == "GET" and (path == "/renewal-info" or path.startswith("/renewal-info/")):
            return self.renewal_info(path, rec)
        if path.startswith("/renewal-info"):
            return self.problem(405, "malformed", "FAKE: renewalInfo answers GET only",
                                [("Allow", "GET")], rec=dict(rec, kind="reject"))

        if rec["endpoint"] == "newOrder" and jws is not None and isinstance(jws.get("payload"), dict):
            if self.check_new_order(jws["payload"], rec):
                return   # rejected locally

        self.forward(path, body, rec)

    def decode_jws(self, body, rec):
        try:
            j = json.loads(body)
            prot = json.loads(b64url_decode(j["protected"]))
            raw = b64url_decode(j.get("payload", ""))
            if raw == b"":
                payload = ""
            else:
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = raw.decode("utf-8", "replace")
            rec["protected"] = prot
            rec["payload"] = payload
            return {"protected": prot, "payload": payload}
        except (ValueError, KeyError, TypeError) as e:
            rec["jws_error"] = str(e)
            return None

    def check_new_order(self, payload, rec):
        st = self.st
        prof = payload.get("profile")
        repl = payload.get("replaces")
        if prof is not None:
            rec["profile"] = prof
        if repl is not None:
            rec["replaces"] = repl
            rec["replaces_known"] = repl in st.known
        if prof is not None and st.profiles is not None and prof not in st.profiles:
            self.problem(400, "invalidProfile",
                         "FAKE: profile %r is not one of %s" % (prof, sorted(st.profiles)),
                         rec=dict(rec, kind="reject"))
            return True
        if repl is not None and st.args.strict_replaces:
            if not isinstance(repl, str) or repl not in st.known:
                self.problem(400, "malformed", "FAKE: replaces %r names no certificate issued "
                             "through this proxy" % (repl,), rec=dict(rec, kind="reject"))
                return True
            if repl in st.replaced:
                self.problem(409, "alreadyReplaced", "FAKE: %s was already replaced" % repl,
                             rec=dict(rec, kind="reject"))
                return True
        return False

    def inject(self, fault, rec):
        ra = fault.get("retry_after", "2")
        if ra == "date":
            ra = email.utils.formatdate(time.time() + 2, usegmt=True)
        rec.update(kind="fault", fault=fault)
        if fault["status"] == 429:
            return self.problem(429, "rateLimited",
                                "FAKE: rate limit injected by fake_ari_proxy for %s" % rec["path"],
                                [("Retry-After", ra)], rec=rec)
        body = "503 Service Unavailable (injected by fake_ari_proxy)\n"
        hdrs = [("Retry-After", ra)]
        nonce = self.fresh_nonce()
        if nonce:
            hdrs.append(("Replay-Nonce", nonce))
        self.send(fault["status"], body, hdrs, "text/plain; charset=utf-8")
        rec["status"] = fault["status"]
        self.st.record(rec)

    def renewal_info(self, path, rec):
        st = self.st
        cid = path[len("/renewal-info/"):] if path.startswith("/renewal-info/") else ""
        rec.update(kind="ari", cert_id=cid)
        if not CERT_ID_RE.match(cid):
            rec["reason"] = "malformed certID (want base64url(AKI keyIdentifier).base64url(serial), no padding)"
            return self.problem(404, "malformed", "FAKE: " + rec["reason"] + ": %r" % cid, rec=rec)
        try:
            aki, ser = (b64url_decode(x) for x in cid.split("."))
        except ValueError:
            aki = ser = b""
        if not aki or not ser or (ser[0] == 0 and len(ser) > 1 and ser[1] < 0x80) or ser[0] >= 0x80:
            # a DER INTEGER's content is minimal, and a serial is positive (leading 00 iff high bit)
            rec["reason"] = "certID parts do not decode to a keyIdentifier and a DER serial"
            return self.problem(404, "malformed", "FAKE: " + rec["reason"] + ": %r" % cid, rec=rec)
        rec["known"] = cid in st.known
        if not rec["known"] and not st.args.accept_any_cert_id:
            rec["reason"] = "no certificate with this certID was downloaded through this proxy"
            return self.problem(404, "malformed", "FAKE: " + rec["reason"] + ": %s" % cid, rec=rec)
        with st.lock:
            w = dict(st.cert_windows.get(cid, st.window))
        doc = {"suggestedWindow": {"start": rfc3339(w["start"]), "end": rfc3339(w["end"])}}
        if w.get("explanation_url"):
            doc["explanationURL"] = w["explanation_url"]
        rec["window"] = doc["suggestedWindow"]
        hdrs = []
        if w.get("retry_after") is not None:
            hdrs.append(("Retry-After", str(w["retry_after"])))
        self.send(200, json.dumps(doc), hdrs, "application/json")
        rec["status"] = 200
        st.record(rec)

    def forward(self, path, body, rec):
        st = self.st
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        hdrs["Host"] = self.headers.get("Host", "")
        try:
            status, rhdrs, data = self.upstream(self.command, path, body, hdrs)
        except OSError as e:
            rec.update(kind="forward", upstream_error=str(e))
            return self.problem(502, "serverInternal", "FAKE proxy: Pebble unreachable: %s" % e,
                                rec=rec)
        rec.update(kind="forward", status=status)
        ctype = dict((k.lower(), v) for k, v in rhdrs).get("content-type", "")
        if status >= 400 and "json" in ctype:
            try:
                rec["problem"] = json.loads(data).get("type")
            except (ValueError, AttributeError):
                pass
        if rec["endpoint"] == "directory" and status == 200:
            rec["kind"] = "directory"
            data = self.rewrite_directory(data)
        elif status in (200, 201) and ctype.startswith("application/json"):
            data = self.annotate_order(rec, rhdrs, data)
        elif status == 200 and ctype.startswith("application/pem-certificate-chain"):
            der = first_pem_der(data.decode("ascii", "replace"))
            cid = cert_id_of_der(der) if der else None
            if cid:
                rec["cert_id"] = cid
                with st.lock:
                    st.known[cid] = {"path": path}
        self.send(status, data, rhdrs)
        st.record(rec)

    def rewrite_directory(self, data):
        st = self.st
        try:
            d = json.loads(data)
        except ValueError:
            return data
        with st.lock:
            for name, url in d.items():
                if isinstance(url, str) and url.startswith("http"):
                    st.paths[urlsplit(url).path] = name
                    if name == "newNonce":
                        st.nonce_path = urlsplit(url).path
        host = self.headers.get("Host", "")
        if not st.args.no_ari:
            d["renewalInfo"] = "https://%s/renewal-info%s" % (host, "/" if st.args.renewal_info_trailing_slash else "")
        if st.profiles is not None:
            meta = d.setdefault("meta", {})
            meta["profiles"] = dict(st.profiles)
        return json.dumps(d, indent=3).encode()

    def annotate_order(self, rec, rhdrs, data):
        """Orders created with a profile carry it (as real servers do); track replaced certs."""
        st = self.st
        try:
            d = json.loads(data)
        except ValueError:
            return data
        if not isinstance(d, dict) or "finalize" not in d:
            return data
        fin = urlsplit(d["finalize"]).path
        if rec["endpoint"] == "newOrder":
            with st.lock:
                if "profile" in rec:
                    st.order_profile[fin] = rec["profile"]
                if "replaces" in rec:
                    st.order_replaces[fin] = rec["replaces"]
        with st.lock:
            prof = st.order_profile.get(fin)
            repl = st.order_replaces.get(fin)
            if d.get("status") == "valid" and repl:
                st.replaced.add(repl)
        changed = False
        if prof is not None and "profile" not in d:
            d["profile"] = prof
            changed = True
        if repl is not None and "replaces" not in d:
            d["replaces"] = repl
            changed = True
        return json.dumps(d, indent=3).encode() if changed else data

    def control(self, path, body, rec):
        st = self.st
        rec["kind"] = "control"
        what = path[len("/_fake/"):]
        try:
            req = json.loads(body) if body else {}
        except ValueError as e:
            rec["status"] = 400
            st.record(rec)
            return self.send(400, "bad JSON: %s\n" % e, (), "text/plain")
        rec["request"] = req
        if what == "ping":
            out = {"ok": True}
        elif what == "known" and self.command == "GET":
            with st.lock:
                out = {"known": sorted(st.known), "replaced": sorted(st.replaced)}
        elif what == "window" and self.command == "POST":
            try:
                with st.lock:
                    base = dict(st.cert_windows.get(req.get("cert_id"), st.window))
                    for k in ("start", "end"):
                        if k in req:
                            base[k] = parse_time(req[k])
                    for k in ("retry_after", "explanation_url"):
                        if k in req:
                            base[k] = req[k]
                    if req.get("cert_id"):
                        st.cert_windows[req["cert_id"]] = base
                    else:
                        st.window = base
                out = {"start": rfc3339(base["start"]), "end": rfc3339(base["end"]),
                       "retry_after": base.get("retry_after"),
                       "explanation_url": base.get("explanation_url")}
            except (ValueError, TypeError) as e:
                rec["status"] = 400
                st.record(rec)
                return self.send(400, "bad window: %s\n" % e, (), "text/plain")
        elif what == "fault" and self.command == "POST":
            f = {"status": int(req.get("status", 429)), "match": str(req.get("match", "")),
                 "count": int(req.get("count", 1)), "retry_after": str(req.get("retry_after", "2"))}
            with st.lock:
                st.faults.append(f)
            out = f
        else:
            rec["status"] = 404
            st.record(rec)
            return self.send(404, "unknown control %s %s\n" % (self.command, path), (), "text/plain")
        rec["status"] = 200
        st.record(rec)
        self.send(200, json.dumps(out), (), "application/json")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description="FAKE ARI (RFC 9773) + profiles proxy in front of "
                                "Pebble, for tests only. See the module docstring.")
    p.add_argument("--listen", required=True, help="HOST:PORT to listen on (HTTPS)")
    p.add_argument("--upstream", required=True, help="Pebble's base URL, https://127.0.0.1:PORT")
    p.add_argument("--upstream-ca", required=True, help="PEM that verifies Pebble's HTTPS")
    p.add_argument("--cert", required=True, help="this proxy's HTTPS certificate (PEM)")
    p.add_argument("--key", required=True, help="its key (PEM)")
    p.add_argument("--log", help="JSON-lines request log")
    p.add_argument("--window-start", default="+2592000",
                   help="suggestedWindow start: RFC 3339 or +/-seconds from now (default +30 days)")
    p.add_argument("--window-end", default="+2678400",
                   help="suggestedWindow end (default +31 days)")
    p.add_argument("--retry-after", type=int, default=21600,
                   help="Retry-After seconds on renewalInfo answers (default 21600)")
    p.add_argument("--explanation-url", help="explanationURL in renewalInfo answers")
    p.add_argument("--accept-any-cert-id", action="store_true",
                   help="answer any well-formed certID, not only certificates seen downloaded")
    p.add_argument("--strict-replaces", action="store_true",
                   help="reject newOrder 'replaces' of unknown or already replaced certificates")
    p.add_argument("--renewal-info-trailing-slash", action="store_true",
                   help="advertise renewalInfo as .../renewal-info/ (clients must not double the /)")
    p.add_argument("--no-ari", action="store_true", help="do not advertise renewalInfo")
    p.add_argument("--no-profiles", action="store_true", help="do not advertise profiles")
    p.add_argument("--rate-limit-once", metavar="SUBSTR",
                   help="answer the first request whose path contains SUBSTR with 429 rateLimited")
    p.add_argument("--unavailable-once", metavar="SUBSTR", nargs="?", const="",
                   help="answer the first request whose path contains SUBSTR (default: any) with 503")
    p.add_argument("--retry-after-date", action="store_true",
                   help="injected faults give Retry-After as an HTTP-date (now + 2 s), not '2'")
    p.add_argument("--verbose", action="store_true", help="access log on stderr")
    args = p.parse_args()
    try:
        parse_time(args.window_start)
        parse_time(args.window_end)
    except ValueError as e:
        p.error("bad window time: %s" % e)

    host, _, port = args.listen.rpartition(":")
    srv = Server((host, int(port)), Handler)
    srv.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.up_ctx = ssl.create_default_context(cafile=args.upstream_ca)
    sys.stderr.write("fake_ari_proxy (FAKE ARI + profiles, tests only): https://%s -> %s\n"
                     % (args.listen, args.upstream))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
