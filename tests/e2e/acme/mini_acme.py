#!/usr/bin/env python3
"""mini_acme.py — a minimal, independent ACME (RFC 8555) client used only to probe the test harness
(Pebble, the fake ARI proxy): what the SERVER side accepts, independently of the client under test.
Not a model for ccs; no retries beyond badNonce, no politeness. python3 stdlib + the openssl CLI
(RSA account key, RS256 JWS; P-256 certificate key).

usage: mini_acme.py --server DIR_URL --ca CA_PEM --workdir DIR [--eab-kid KID --eab-hmac-file F]
                    [--http-port PORT] [--profile NAME] [--replaces CERTID] [--order-only]
                    [--out CERT_PEM] IDENT...
  IDENT is dns:NAME or ip:ADDRESS (a bare name means dns:NAME). The account (key + URL) is kept in
  --workdir and reused. http-01 is answered on 127.0.0.1:--http-port. Prints one JSON object on
  stdout: {"new_order_status": HTTP status, "order": newOrder's answer, "final": the last order,
  "cert": --out}; on an ACME error: {"error": problem document, "http_status": N, "at": URL} and
  exit 1.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class AcmeError(Exception):
    def __init__(self, status, problem, url):
        super().__init__("%s %s" % (status, problem))
        self.status, self.problem, self.url = status, problem, url


class Client:
    def __init__(self, a):
        self.a = a
        self.ctx = ssl.create_default_context(cafile=a.ca)
        os.makedirs(a.workdir, exist_ok=True)
        self.key = os.path.join(a.workdir, "account.key")
        if not os.path.exists(self.key):
            subprocess.run(["openssl", "genrsa", "-out", self.key, "2048"], check=True,
                           stderr=subprocess.DEVNULL)
        mod = subprocess.run(["openssl", "rsa", "-in", self.key, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.jwk = {"e": "AQAB", "kty": "RSA", "n": b64(bytes.fromhex(mod))}
        self.thumb = b64(hashlib.sha256(json.dumps(self.jwk, sort_keys=True,
                                                   separators=(",", ":")).encode()).digest())
        self.dir = json.loads(self.raw("GET", a.server)[2])
        self.nonce = None
        self.kid = None
        kidf = os.path.join(a.workdir, "account.url")
        if os.path.exists(kidf):
            self.kid = open(kidf).read().strip()

    def raw(self, method, url, body=None, ctype="application/jose+json"):
        req = urllib.request.Request(url, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def sign(self, protected, payload):
        p = b64(json.dumps(protected))
        pl = "" if payload is None else b64(json.dumps(payload))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=("%s.%s" % (p, pl)).encode(), capture_output=True,
                             check=True).stdout
        return json.dumps({"protected": p, "payload": pl, "signature": b64(sig)}).encode()

    def post(self, url, payload, jwk=False, extra=None):
        for _ in range(10):
            if not self.nonce:
                _, h, _ = self.raw("HEAD", self.dir["newNonce"])
                self.nonce = h["Replay-Nonce"]
            prot = {"alg": "RS256", "nonce": self.nonce, "url": url}
            if jwk:
                prot["jwk"] = self.jwk
            else:
                prot["kid"] = self.kid
            if extra:
                payload = dict(payload, **extra(url))
            status, h, body = self.raw("POST", url, self.sign(prot, payload))
            self.nonce = h.get("Replay-Nonce")
            if status >= 400:
                try:
                    prob = json.loads(body)
                except ValueError:
                    prob = {"raw": body.decode("utf-8", "replace")}
                if prob.get("type") == "urn:ietf:params:acme:error:badNonce":
                    continue
                raise AcmeError(status, prob, url)
            return status, h, body
        raise AcmeError(400, {"detail": "badNonce ten times"}, url)

    def account(self):
        if self.kid:
            return
        payload = {"termsOfServiceAgreed": True, "contact": ["mailto:mini@example.com"]}
        extra = None
        if self.a.eab_kid:
            mac = b64d(open(self.a.eab_hmac_file).read().strip())

            def extra(url):
                p = b64(json.dumps({"alg": "HS256", "kid": self.a.eab_kid, "url": url}))
                pl = b64(json.dumps(self.jwk))
                sig = hmac.new(mac, ("%s.%s" % (p, pl)).encode(), hashlib.sha256).digest()
                return {"externalAccountBinding": {"protected": p, "payload": pl,
                                                   "signature": b64(sig)}}
        _, h, _ = self.post(self.dir["newAccount"], payload, jwk=True, extra=extra)
        self.kid = h["Location"]
        open(os.path.join(self.a.workdir, "account.url"), "w").write(self.kid + "\n")

    def get(self, url):
        s, h, body = self.post(url, None)
        return s, h, body


class Tokens(http.server.BaseHTTPRequestHandler):
    tokens = {}

    def do_GET(self):
        t = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/.well-known/acme-challenge/") and t in self.tokens:
            body = self.tokens[t].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *a):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--eab-kid")
    ap.add_argument("--eab-hmac-file")
    ap.add_argument("--http-port", type=int)
    ap.add_argument("--profile")
    ap.add_argument("--replaces")
    ap.add_argument("--order-only", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("idents", nargs="+")
    a = ap.parse_args()
    out = {}
    try:
        c = Client(a)
        c.account()
        ids = []
        for i in a.idents:
            t, _, v = i.partition(":") if i.startswith(("dns:", "ip:")) else ("dns", "", i)
            ids.append({"type": t, "value": v})
        payload = {"identifiers": ids}
        if a.profile is not None:
            payload["profile"] = a.profile
        if a.replaces is not None:
            payload["replaces"] = a.replaces
        s, h, body = c.post(c.dir["newOrder"], payload)
        order = json.loads(body)
        order_url = h["Location"]
        out.update(new_order_status=s, order=order, order_url=order_url)
        if a.order_only:
            print(json.dumps(out))
            return 0
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.http_port), Tokens)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        for az_url in order["authorizations"]:
            az = json.loads(c.get(az_url)[2])
            if az["status"] == "valid":
                continue
            ch = [x for x in az["challenges"] if x["type"] == "http-01"][0]
            Tokens.tokens[ch["token"]] = ch["token"] + "." + c.thumb
            c.post(ch["url"], {})
            for _ in range(100):
                az = json.loads(c.get(az_url)[2])
                if az["status"] != "pending":
                    break
                time.sleep(0.2)
            if az["status"] != "valid":
                raise AcmeError(0, {"detail": "authorization %s" % az["status"], "authz": az}, az_url)
        srv.shutdown()
        key = os.path.join(a.workdir, "cert.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True)
        san = ",".join(("IP:" if x["type"] == "ip" else "DNS:") + x["value"] for x in ids)
        csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/", "-addext",
                              "subjectAltName=" + san, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        c.post(order["finalize"], {"csr": b64(csr)})
        for _ in range(100):
            final = json.loads(c.get(order_url)[2])
            if final["status"] not in ("processing", "ready", "pending"):
                break
            time.sleep(0.2)
        out["final"] = final
        if final["status"] != "valid":
            raise AcmeError(0, {"detail": "order %s" % final["status"]}, order_url)
        pem = c.get(final["certificate"])[2]
        if a.out:
            open(a.out, "wb").write(pem)
            out["cert"] = a.out
        print(json.dumps(out))
        return 0
    except AcmeError as e:
        out.update(error=e.problem, http_status=e.status, at=e.url)
        print(json.dumps(out))
        return 1


if __name__ == "__main__":
    sys.exit(main())
