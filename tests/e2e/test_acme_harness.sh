#!/bin/sh
# test_acme_harness.sh — the ACME test harness (acme_lib.sh, the challtestsrv hook, the fake ARI
# proxy) works, proven with independent clients and no ccs code: Debian's lego issues from the
# harness's Pebble by http-01, by dns-01 through our hook (lego's exec provider), and through the
# fake ARI/profiles proxy; a minimal Python client (acme/mini_acme.py) probes what lego cannot send
# (IP identifiers, profile, replaces). Every issued chain verifies against Pebble's root from the
# management API. Also: EAB, alternate roots, fault injection, certID computation, and that the
# harness kills its processes on failure and when the test shell is SIGKILLed.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"

MINI="python3 $E2E/acme/mini_acme.py"
command -v lego >/dev/null 2>&1 || { echo "FAIL: lego not installed (scripts/setup installs it)" >&2; exit 1; }

# lego_run WANT OUT WHAT ARGS... — lego trusting the harness CA; checks its exit status
lego_run() {
    _want=$1 _out=$2 _what=$3
    shift 3
    set +e
    LEGO_CA_CERTIFICATES=$ACME_CA_BUNDLE lego --accept-tos --email a@example.com "$@" >"$_out" 2>&1
    _got=$?
    set -e
    if { [ "$_want" = 0 ] && [ $_got -eq 0 ]; } || { [ "$_want" != 0 ] && [ $_got -ne 0 ]; }; then
        ok "$_what: lego exits $_got"
    else
        fail "$_what: lego exited $_got, expected $([ "$_want" = 0 ] && echo 0 || echo non-zero):"
        sed 's/^/    /' "$_out" >&2
    fi
}

# expect_chain CERT_BUNDLE ROOTS NAME WHAT — the first certificate of CERT_BUNDLE names NAME and
# verifies with the rest of the bundle as untrusted intermediates against ROOTS only.
expect_chain() {
    if [ ! -s "$1" ]; then
        fail "$4: no certificate at $1"
        return 0
    fi
    awk '/-----BEGIN CERTIFICATE-----/ { n++ } n == 1' "$1" >"$1.leaf"
    awk '/-----BEGIN CERTIFICATE-----/ { n++ } n >= 2' "$1" >"$1.chain"
    if openssl verify -CAfile "$2" -untrusted "$1.chain" "$1.leaf" >"$1.verify" 2>&1; then
        ok "$4: chain verifies against Pebble's root"
    else
        fail "$4: openssl verify failed:"
        sed 's/^/    /' "$1.verify" >&2
    fi
    if openssl x509 -in "$1.leaf" -noout -ext subjectAltName 2>/dev/null | grep -qF "$3"; then
        ok "$4: certificate names $3"
    else
        fail "$4: $3 not in the certificate's subjectAltName"
    fi
}

# === the harness comes up ===========================================================================
challtestsrv_start
pebble_start
ok "challtestsrv (DNS $DNS_PORT) and Pebble ($ACME_URL, http-01 port $HTTP01_PORT) are up"
for v in ACME_URL ACME_CA_BUNDLE ACME_PORT PEBBLE_MGMT_PORT PEBBLE_MGMT_URL HTTP01_PORT TLSALPN_PORT \
    DNS_PORT CHALLTEST_URL; do
    eval "_val=\${$v:-}"
    if [ -n "$_val" ]; then ok "$v exported ($_val)"; else fail "$v not set"; fi
done
expect_eq "$ACME_URL" "https://127.0.0.1:$ACME_PORT/dir" "ACME_URL form"
curl -sf --cacert "$ACME_CA_BUNDLE" "https://localhost:$ACME_PORT/dir" >dir-localhost.json &&
    ok "Pebble's HTTPS certificate covers localhost too" || fail "https://localhost:$ACME_PORT/dir does not verify"
curl -sf --cacert "$ACME_CA_BUNDLE" "$ACME_URL" >dir.json
expect_eq "$(json_eval dir.json 'd["newOrder"]')" "https://127.0.0.1:$ACME_PORT/order-plz" \
    "Pebble builds its URLs from the request's Host"
expect_eq "$(json_eval dir-localhost.json 'd["newOrder"]')" "https://localhost:$ACME_PORT/order-plz" \
    "... also for Host: localhost"
pebble_root_pem root.pem
pebble_intermediate_pem intermediate.pem
expect_eq "$(grep -c 'BEGIN CERTIFICATE' root.pem)" 1 "one root without PEBBLE_ALTERNATE_ROOTS"
if openssl verify -CAfile root.pem intermediate.pem >/dev/null 2>&1; then
    ok "/intermediates/0 is signed by /roots/0"
else fail "the intermediate does not verify against the root"; fi

# === lego, http-01 ==================================================================================
lego_run 0 lego-http.out "http-01" --server "$ACME_URL" --domains test.example \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego" run
expect_chain "$T/lego/certificates/test.example.crt" root.pem DNS:test.example "http-01"
serial=$(openssl x509 -in "$T/lego/certificates/test.example.crt" -noout -serial)
pebble_cert_status "$serial" >status.json
expect_eq "$(json_eval status.json 'd["Status"]')" Valid "pebble_cert_status: Valid"
expect_eq "$(json_eval status.json 'd["Serial"]')" "$(echo "${serial#serial=}" | tr A-F a-f | sed 's/^0*//')" \
    "pebble_cert_status: the serial asked for"

# === the dns-01 hook, directly ======================================================================
HOOK_LOG=$T/hook.log
export HOOK_LOG
run_cmd 0 hook1.out "$ACME_HOOK" begin dns-01 two.example tok1 VALUE_one-1
run_cmd 0 hook2.out "$ACME_HOOK" begin dns-01 '*.two.example' tok2 VALUE_two-2
expect_eq "$(challtest_txt _acme-challenge.two.example | tr '\n' ' ')" "VALUE_one-1 VALUE_two-2 " \
    "hook: a wildcard and its base name publish side by side (\"*.\" stripped)"
run_cmd 0 hook3.out "$ACME_HOOK" "done" dns-01 two.example tok1 VALUE_one-1
expect_eq "$(challtest_txt _acme-challenge.two.example)" VALUE_two-2 \
    "hook: done withdraws its own value only"
run_cmd 0 hook4.out "$ACME_HOOK" failed dns-01 two.example tok2 VALUE_two-2
expect_eq "$(challtest_txt _acme-challenge.two.example)" "" "hook: failed withdraws too"
run_cmd 1 hook5.out "$ACME_HOOK" begin http-01 two.example tok KEYAUTH
expect_contains hook5.out "cannot handle http-01" "hook: non-dns-01 exits 1 with a reason"
run_cmd 2 hook6.out "$ACME_HOOK" begin dns-01
run_cmd 1 hook7.out "$ACME_HOOK" begin dns-01 'bad"name' tok VAL
run_cmd 1 hook8.out env CHALLTEST_URL=http://127.0.0.1:1 "$ACME_HOOK" begin dns-01 x.example tok VAL
expect_contains hook8.out "failed" "hook: an unreachable challtestsrv is an error"
expect_contains "$HOOK_LOG" "begin http-01 two.example" "hook: HOOK_LOG records refused calls too"
expect_contains "$HOOK_LOG" "begin dns-01 two.example" "hook: HOOK_LOG records METHOD TYPE IDENT"
# A hook killed while it holds its per-name lock (ccs kills a hook's process group at a stop or a
# timeout, SIGKILL after the grace) leaves the lock free for the next call: a lock the dead hook
# kept made every later call for the name fail ("could not take ... lock") and left its TXT record
# in the DNS. The hook is caught in its POST (a curl on PATH that says so and sleeps), then killed.
mkdir -p "$T/slowcurl"
printf '#!/bin/sh\n: >"%s/slowcurl.started"\nexec sleep 30\n' "$T" >"$T/slowcurl/curl"
chmod 0755 "$T/slowcurl/curl"
PATH=$T/slowcurl:$PATH setsid "$ACME_HOOK" begin dns-01 held.example tok VAL_held >held.out 2>&1 &
held_pid=$!
wait_for_file -e "$T/slowcurl.started" 10 && ok "hook: caught in its POST, holding the lock" ||
    fail "hook: never reached its POST: $(cat held.out)"
kill -KILL "-$held_pid" || fail "hook: could not kill its process group"
wait "$held_pid" 2>/dev/null || true
run_cmd 0 held2.out "$ACME_HOOK" begin dns-01 held.example tok VAL_next
expect_eq "$(challtest_txt _acme-challenge.held.example)" VAL_next \
    "hook: a hook killed while it held the lock leaves it free for the next call"
run_cmd 0 held3.out "$ACME_HOOK" failed dns-01 held.example tok VAL_next
run_cmd 1 failing.out "$ACME_FAILING_HOOK" begin dns-01 x.example tok VAL
expect_contains failing.out "always fails" "failing-hook exits 1 with a message"
: >"$HOOK_LOG"

# === lego, dns-01 through the hook (exec provider) ==================================================
# lego 4.9 needs --dns.disable-cp: challtestsrv answers SOA queries NOTIMP, so lego cannot find the
# zone's authoritative servers; EXEC_SEQUENCE_INTERVAL: lego waits that long between two challenges
# of one name (default 60 s).
EXEC_PATH=$E2E/acme/lego-exec-adaptor EXEC_SEQUENCE_INTERVAL=1 EXEC_POLLING_INTERVAL=1 \
    EXEC_PROPAGATION_TIMEOUT=30 lego_run 0 lego-dns.out "dns-01 via the hook" --server "$ACME_URL" \
    --domains dns.example --domains '*.dns.example' --dns exec --dns.resolvers "127.0.0.1:$DNS_PORT" \
    --dns.disable-cp --path "$T/lego" run
expect_chain "$T/lego/certificates/dns.example.crt" root.pem 'DNS:*.dns.example' "dns-01 (wildcard)"
expect_contains "$HOOK_LOG" "begin dns-01 dns.example" "dns-01: lego called the hook to publish"
expect_contains "$HOOK_LOG" "done dns-01 dns.example" "dns-01: ... and to withdraw"
expect_eq "$(challtest_txt _acme-challenge.dns.example)" "" "dns-01: nothing left in DNS afterwards"

# === Pebble and unknown fields, IP identifiers (mini client, straight to Pebble) ===================
$MINI --server "$ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini" --order-only \
    --profile shortlived --replaces=aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE unknown.example >mini-unknown.json || true
expect_eq "$(json_eval mini-unknown.json 'd.get("new_order_status")')" 201 \
    "Pebble 2.4 accepts newOrder with unknown fields (profile, replaces)"
$MINI --server "$ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini" --http-port "$HTTP01_PORT" \
    --out ip.pem ip:127.0.0.1 dns:withip.example >mini-ip.json || true
expect_eq "$(json_eval mini-ip.json 'd.get("final", {}).get("status")')" valid "Pebble 2.4 issues for an IP identifier (http-01)"
expect_chain ip.pem root.pem "IP Address:127.0.0.1" "IP identifier"

# === certID: openssl-based acme_cert_id and the proxy's DER parser agree (high bit set or not) =====
make_ca idca
for s in 0x0102 0x80ff 0x00a1b2 0x7f; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout id.key -subj /CN=id \
        -out id.csr 2>/dev/null
    printf 'authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n' >id.ext
    openssl x509 -req -in id.csr -CA idca.pem -CAkey idca.key -set_serial "$s" -days 1 \
        -extfile id.ext -out "id$s.pem" 2>/dev/null
    mine=$(acme_cert_id "id$s.pem")
    theirs=$(python3 -B -c '
import sys; sys.path.insert(0, sys.argv[1])
import fake_ari_proxy as f
print(f.cert_id_of_der(f.first_pem_der(open(sys.argv[2]).read())))' "$E2E/acme" "id$s.pem")
    expect_eq "$mine" "$theirs" "certID of serial $s: openssl and the proxy agree"
done
expect_eq "$(acme_cert_id id0x80ff.pem | sed 's/.*\.//')" AID_ "certID: serial 0x80ff encodes as 00 80 ff"
expect_eq "$(acme_cert_id id0x00a1b2.pem | sed 's/.*\.//')" AKGy "certID: serial 0xa1b2 encodes as 00 a1 b2"

# === the fake ARI / profiles proxy, with lego ======================================================
fake_ari_start --window-start -3600 --window-end +3600 --retry-after 60
ok "fake proxy up at $FAKE_ACME_URL (log $FAKE_LOG)"
curl -sf --cacert "$ACME_CA_BUNDLE" "$FAKE_ACME_URL" >fake-dir.json
expect_eq "$(json_eval fake-dir.json 'd["renewalInfo"]')" "https://127.0.0.1:$FAKE_PORT/renewal-info" \
    "proxy directory: renewalInfo"
expect_eq "$(json_eval fake-dir.json 'sorted(d["meta"]["profiles"])' | tr '\n' ' ')" "classic shortlived " \
    "proxy directory: meta.profiles"
expect_eq "$(json_eval fake-dir.json 'd["meta"]["termsOfService"]')" "$(json_eval dir.json 'd["meta"]["termsOfService"]')" \
    "proxy directory: Pebble's meta kept"
expect_eq "$(json_eval fake-dir.json 'd["newOrder"]')" "https://127.0.0.1:$FAKE_PORT/order-plz" \
    "proxy directory: Pebble's URLs point at the proxy (Host preserved)"

lego_run 0 lego-fake.out "through the proxy" --server "$FAKE_ACME_URL" --domains ari.example \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego-fake" run
expect_chain "$T/lego-fake/certificates/ari.example.crt" root.pem DNS:ari.example "through the proxy"
expect_eq "$(fake_log_eval '[x["payload"]["identifiers"][0]["value"] for x in r if x["endpoint"] == "newOrder" and x["status"] == 201]')" \
    ari.example "proxy log: lego's newOrder payload recorded"
expect_eq "$(fake_log_eval '[x["protected"]["url"] for x in r if x["endpoint"] == "newOrder" and x["status"] == 201]')" \
    "https://127.0.0.1:$FAKE_PORT/order-plz" "proxy log: the JWS was signed for the proxy's URL"
expect_eq "$(fake_log_eval 'sorted(set(x.get("problem") or x["status"] for x in r if x["kind"] == "forward") - {200, 201, 204, "urn:ietf:params:acme:error:badNonce"})')" \
    "" "proxy log: every forwarded request succeeded (but Pebble's deliberate badNonce)"
cid=$(acme_cert_id "$T/lego-fake/certificates/ari.example.crt")
expect_eq "$(fake_log_eval '[x["cert_id"] for x in r if "cert_id" in x and x["kind"] == "forward"][-1:]')" "$cid" \
    "proxy: the downloaded certificate's certID is known"
curl -s -D ari.hdr --cacert "$ACME_CA_BUNDLE" "https://127.0.0.1:$FAKE_PORT/renewal-info/$cid" >ari.json
expect_contains ari.hdr "200" "renewalInfo: 200 for the issued certificate"
expect_contains ari.hdr "Retry-After: 60" "renewalInfo: Retry-After from --retry-after"
expect_eq "$(json_eval ari.json 'sorted(d["suggestedWindow"])' | tr '\n' ' ')" "end start " "renewalInfo: suggestedWindow"
expect_eq "$(python3 -c '
import json, sys, datetime as dt
w = json.load(open(sys.argv[1]))["suggestedWindow"]
p = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
now = dt.datetime.now(dt.timezone.utc)
print(p(w["start"]) < now < p(w["end"]))' ari.json)" True "renewalInfo: the window contains now (-3600..+3600)"
for bad in "AAAA.AQ" "no-dot" "AAAA.AQ==" "AAAA.gA" "AAAA.AAE" "$cid.x"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ACME_CA_BUNDLE" "https://127.0.0.1:$FAKE_PORT/renewal-info/$bad")
    expect_eq "$code" 404 "renewalInfo: 404 for [$bad]"
done
fake_ari_control window "{\"cert_id\": \"$cid\", \"start\": \"2030-01-01T00:00:00Z\", \"end\": \"2030-01-02T00:00:00Z\"}" >/dev/null
curl -s --cacert "$ACME_CA_BUNDLE" "https://127.0.0.1:$FAKE_PORT/renewal-info/$cid" >ari2.json
expect_eq "$(json_eval ari2.json 'd["suggestedWindow"]["start"]')" 2030-01-01T00:00:00Z "control: per-certificate window"
expect_eq "$(fake_log_eval 'sum(x["endpoint"] == "renewalInfo" for x in r)')" 8 "proxy log counts renewalInfo fetches"

# profile and replaces, through the proxy (mini client)
$MINI --server "$FAKE_ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini-fake" --http-port "$HTTP01_PORT" \
    --profile shortlived --replaces="$cid" --out prof.pem ari.example >mini-prof.json || true
expect_eq "$(json_eval mini-prof.json 'd.get("final", {}).get("status")')" valid "profile + replaces: issued through the proxy"
expect_eq "$(json_eval mini-prof.json 'd["order"].get("profile")')" shortlived "profile: echoed in the order"
expect_eq "$(fake_log_eval '[(x["profile"], x["replaces"], x["replaces_known"]) for x in r if x["endpoint"] == "newOrder" and "profile" in x and x["status"] == 201]')" \
    "[\"shortlived\", \"$cid\", true]" "proxy log: profile, replaces (known) recorded"
$MINI --server "$FAKE_ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini-fake" --order-only \
    --profile nosuch ari.example >mini-badprof.json || true
expect_eq "$(json_eval mini-badprof.json 'd["error"]["type"]')" urn:ietf:params:acme:error:invalidProfile \
    "unknown profile: invalidProfile"

# fault injection at run time: 429 then the real answer; 503 with an HTTP-date
fake_ari_control fault '{"status": 429, "match": "/dir"}' >/dev/null
curl -s -D f1.hdr --cacert "$ACME_CA_BUNDLE" "$FAKE_ACME_URL" >f1.json
expect_contains f1.hdr "HTTP/1.1 429" "fault: 429"
expect_contains f1.hdr "Retry-After: 2" "fault: Retry-After: 2"
expect_contains f1.hdr "Replay-Nonce:" "fault: carries a fresh nonce"
expect_eq "$(json_eval f1.json 'd["type"]')" urn:ietf:params:acme:error:rateLimited "fault: rateLimited problem"
curl -s -D f2.hdr --cacert "$ACME_CA_BUNDLE" "$FAKE_ACME_URL" >/dev/null
expect_contains f2.hdr "HTTP/1.1 200" "fault: once only"
fake_ari_stop

fake_ari_start --rate-limit-once /order-plz --retry-after-date --unavailable-once renewal-info --no-profiles
curl -sf --cacert "$ACME_CA_BUNDLE" "$FAKE_ACME_URL" >fake-dir2.json
expect_eq "$(json_eval fake-dir2.json '"profiles" in d["meta"]')" false "--no-profiles"
$MINI --server "$FAKE_ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini-fake2" --order-only rl.example >rl1.json || true
expect_eq "$(json_eval rl1.json 'd["error"]["type"]')" urn:ietf:params:acme:error:rateLimited "--rate-limit-once: newOrder 429"
$MINI --server "$FAKE_ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini-fake2" --order-only rl.example >rl2.json || true
expect_eq "$(json_eval rl2.json 'd.get("new_order_status")')" 201 "--rate-limit-once: the retry goes through"
curl -s -D f3.hdr -o /dev/null --cacert "$ACME_CA_BUNDLE" "https://127.0.0.1:$FAKE_PORT/renewal-info/x.y"
expect_contains f3.hdr "HTTP/1.1 503" "--unavailable-once: 503"
expect_contains f3.hdr "GMT" "--retry-after-date: Retry-After is an HTTP-date"
fake_ari_stop

# === EAB ============================================================================================
pebble_stop
pebble_start eab
expect_eq "$(file_mode "$EAB_HMAC_FILE")" 600 "EAB_HMAC_FILE is 0600"
expect_eq "$(tr -d '\n' <"$EAB_HMAC_FILE" | tr -d 'A-Za-z0-9_-' | wc -c)" 0 "EAB key is base64url without padding"
expect_contains "$T/pebble/pebble-config.2.json" "$(cat "$EAB_HMAC_FILE")" "EAB key as in Pebble's config"
pebble_root_pem root2.pem
lego_run 1 lego-noeab.out "EAB required, none given" --server "$ACME_URL" --domains eab.example \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego-eab" run
expect_contains lego-noeab.out "External Account Binding" "EAB: lego sees meta.externalAccountRequired"
$MINI --server "$ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini-noeab" --order-only eab.example \
    >mini-noeab.json || true
expect_eq "$(json_eval mini-noeab.json 'd["error"]["type"]')" urn:ietf:params:acme:error:externalAccountRequired \
    "EAB: Pebble refuses newAccount without a binding"
$MINI --server "$ACME_URL" --ca "$ACME_CA_BUNDLE" --workdir "$T/mini-eab" --order-only \
    --eab-kid "$EAB_KID" --eab-hmac-file "$EAB_HMAC_FILE" eab.example >mini-eab.json || true
expect_eq "$(json_eval mini-eab.json 'd.get("new_order_status")')" 201 \
    "EAB: HS256 over the JWK with the base64url-decoded key from EAB_HMAC_FILE is accepted"
lego_run 1 lego-badeab.out "EAB with a wrong key" --server "$ACME_URL" --domains eab.example \
    --eab --kid "$EAB_KID" --hmac "$(openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_')" \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego-eab" run
expect_contains lego-badeab.out unauthorized "EAB: a wrong HMAC is unauthorized"
lego_run 0 lego-eab.out "EAB" --server "$ACME_URL" --domains eab.example \
    --eab --kid "$EAB_KID" --hmac "$(cat "$EAB_HMAC_FILE")" \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego-eab" run
expect_chain "$T/lego-eab/certificates/eab.example.crt" root2.pem DNS:eab.example "EAB"

# === alternate roots ================================================================================
pebble_stop
PEBBLE_ALTERNATE_ROOTS=1
export PEBBLE_ALTERNATE_ROOTS
pebble_start
unset PEBBLE_ALTERNATE_ROOTS
pebble_root_pem roots-all.pem
pebble_root_pem root-alt.pem 1
pebble_root_pem root-0.pem 0
expect_eq "$(grep -c 'BEGIN CERTIFICATE' roots-all.pem)" 2 "alternate roots: pebble_root_pem gets both"
alt_cn=$(openssl x509 -in root-alt.pem -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
lego_run 0 lego-alt0.out "alternate roots: default chain" --server "$ACME_URL" --domains alt.example \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego-alt" run
expect_chain "$T/lego-alt/certificates/alt.example.crt" root-0.pem DNS:alt.example "default chain ends at root 0"
lego_run 0 lego-alt1.out "alternate roots: preferred chain" --server "$ACME_URL" --domains alt1.example \
    --http --http.port "127.0.0.1:$HTTP01_PORT" --path "$T/lego-alt" run --preferred-chain "$alt_cn"
expect_chain "$T/lego-alt/certificates/alt1.example.crt" root-alt.pem DNS:alt1.example \
    "--preferred-chain '$alt_cn' ends at root 1"

# === a port taken by someone else between the check and the start: each daemon is retried ========
acme__reserve_port BUSY_TCP tcp
acme__reserve_port BUSY_UDP udp
python3 -c 'import socket, sys, time
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", int(sys.argv[1]))); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", int(sys.argv[2])))
open(sys.argv[3], "w").close()
time.sleep(600)' "$BUSY_TCP" "$BUSY_UDP" "$T/busy.ready" </dev/null >busy.log 2>&1 &
busy=$!
wait_for_file -e busy.ready 10 || :
cat >collide.sh <<'EOF'
ACME_LIB_DIR=$1
. "$ACME_LIB_DIR/acme_lib.sh"
challtestsrv_start
pebble_start
fake_ari_start
curl -sf -m 10 --cacert "$ACME_CA_BUNDLE" "$FAKE_ACME_URL" >/dev/null && echo "all up"
EOF
set +e
ACME_FORCE_PORT_DNS_PORT=$BUSY_UDP ACME_FORCE_PORT_CHALLTEST_MGMT_PORT=$BUSY_TCP \
    ACME_FORCE_PORT_ACME_PORT=$BUSY_TCP ACME_FORCE_PORT_FAKE_PORT=$BUSY_TCP \
    CCS_TEST_TMP=$T/collide sh collide.sh "$E2E" >collide.out 2>&1
rc=$?
set -e
expect_eq "$rc" 0 "taken ports: the harness still comes up"
expect_contains collide.out "all up" "taken ports: challtestsrv, Pebble and the proxy all answer"
for who in pebble-challtestsrv pebble fake_ari_proxy; do
    expect_contains collide.out "acme_lib: $who: a port was taken meanwhile; retrying" "taken ports: $who retried"
done
if acme__running "$busy"; then ok "taken ports: the other process holding them was left alone"; else
    fail "the process holding the busy ports is gone"; fi
kill "$busy" 2>/dev/null || true
wait "$busy" 2>/dev/null || true

# === the harness cleans up: on failure, and when the test shell is SIGKILLed =======================
cat >nested.sh <<'EOF'
ACME_LIB_DIR=$1
. "$ACME_LIB_DIR/acme_lib.sh"
challtestsrv_start
pebble_start
echo "$CHALLTEST_PID $ACME_PEBBLE_PID $DNS_PORT $ACME_PORT" >"$2"
if [ "$3" = fail ]; then exit 3; fi
if [ "$3" = rmfail ]; then cd / && rm -rf "$T" && exit 4; fi
while :; do sleep 1; done
EOF
CCS_TEST_TMP=$T/nested1 sh nested.sh "$E2E" nested1.pids fail >nested1.out 2>&1 && rc=0 || rc=$?
expect_eq "$rc" 3 "cleanup: the test's exit status survives the trap"
expect_contains nested1.out "harness logs follow" "cleanup: logs dumped on failure"
expect_contains nested1.out "ACME directory available" "cleanup: ... including Pebble's"
read -r p1 p2 port1 port2 <nested1.pids
for p in $p1 $p2; do
    if acme__running "$p"; then fail "cleanup: pid $p still running after exit"; else ok "cleanup: pid $p gone"; fi
done
for port in $port1 $port2; do
    if [ -d "$ACME_PORT_DIR/$port" ]; then fail "cleanup: port $port still reserved"; else ok "cleanup: port $port released"; fi
done

# ... even when the scratch directory was removed under it (the lists are in the shell's memory)
CCS_TEST_TMP=$T/nested3 sh nested.sh "$E2E" "$T/nested3.pids" rmfail >nested3.out 2>&1 && rc=0 || rc=$?
expect_eq "$rc" 4 "cleanup without \$T: exit status kept"
read -r p1 p2 port1 port2 <nested3.pids
for p in $p1 $p2; do
    if acme__running "$p"; then fail "cleanup without \$T: pid $p still running"; else
        ok "cleanup without \$T: pid $p gone"; fi
done

CCS_TEST_TMP=$T/nested2 sh nested.sh "$E2E" nested2.pids run >nested2.out 2>&1 &
nested=$!
wait_for_file -s nested2.pids 30 || :
read -r p1 p2 port1 port2 <nested2.pids
kill -KILL "$nested"
wait "$nested" 2>/dev/null || true
i=0
while { acme__running "$p1" || acme__running "$p2"; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
for p in $p1 $p2; do
    if acme__running "$p"; then
        fail "watchdog: pid $p still running 10 s after its test shell was SIGKILLed"
        kill "$p" 2>/dev/null || true
    else ok "watchdog: pid $p gone after SIGKILL of the test shell"; fi
done

finish
