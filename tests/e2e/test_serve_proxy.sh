#!/bin/sh
# test_serve_proxy.sh — the PROXY protocol header `ccs serve` puts before the relayed bytes, read
# by a real consumer: HAProxy with `accept-proxy` as the backend, answering what it learnt (client
# address and port, the address connected to, the AUTHORITY TLV = the SNI name) for v1 and v2,
# IPv4 and IPv6 clients. HAProxy 2.6 cannot show the ALPN and SSL TLVs, so a second, independent
# parser (serve/backend.py proxy-echo) checks those; ALPN as the client sees it too. Also [site]
# routing: each name to its own backend, the rest to [serve]'s.
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"

command -v haproxy >/dev/null || acme_die "haproxy not found (scripts/setup installs it)"
serve_store_init
for n in pp1 pp2 tlv plain; do
    serve_cert "$n" "$n.example.com" "DNS:$n.example.com"
done
echo_backend_start ECHO_PORT
acme__reserve_port HAPROXY_PORT
acme__reserve_port TLV_PORT
cat >haproxy.cfg <<EOF
global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:$HAPROXY_PORT accept-proxy
    http-request return status 200 content-type text/plain lf-string "src=%[src] sport=%[src_port] dst=%[dst] dport=%[dst_port] authority=%[fc_pp_authority]"
EOF
haproxy -db -f haproxy.cfg >haproxy.log 2>&1 &
acme__track haproxy $!
python3 "$E2E/serve/backend.py" proxy-echo "$TLV_PORT" "$T/tlv.log" >"$T/tlv.out" 2>&1 &
acme__track proxy-echo $!
SERVE_EXTRA="[site \"pp1\"]
hosts = pp1.example.com
backend = 127.0.0.1:$HAPROXY_PORT
proxy-protocol = v1

[site \"pp2\"]
hosts = pp2.example.com
backend = 127.0.0.1:$HAPROXY_PORT
proxy-protocol = v2

[site \"tlv\"]
hosts = tlv.example.com
backend = 127.0.0.1:$TLV_PORT
proxy-protocol = v2"
serve_conf "alpn = h2, http/1.1"
serve_start
i=0
until curl -s -o /dev/null "http://127.0.0.1:$HAPROXY_PORT/" 2>/dev/null; [ $? -ne 7 ] || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done

# ask NAME [CONNECT_TO] — HAProxy's answer through ccs serve, then curl's own local port
ask() {
    curl -sS --max-time 10 --http1.1 --cacert ca.pem --resolve "$1:$SERVE_PORT:${2:-127.0.0.1}" \
        -w ' local=%{local_port}' "https://$1:$SERVE_PORT/"
}

# ---- v1 and v2, read by HAProxy ---------------------------------------------------------------------
ask pp1.example.com >v1.out 2>&1 || true
port=$(sed -n 's/.* local=\([0-9]*\)$/\1/p' v1.out)
expect_eq "$(sed 's/ local=.*//' v1.out)" \
    "src=127.0.0.1 sport=$port dst=127.0.0.1 dport=$SERVE_PORT authority=" \
    "PROXY v1: HAProxy sees the client's address and port and the address it connected to"
ask pp2.example.com >v2.out 2>&1 || true
port=$(sed -n 's/.* local=\([0-9]*\)$/\1/p' v2.out)
expect_eq "$(sed 's/ local=.*//' v2.out)" \
    "src=127.0.0.1 sport=$port dst=127.0.0.1 dport=$SERVE_PORT authority=pp2.example.com" \
    "PROXY v2: the same, and the SNI name in the AUTHORITY TLV"
ask pp2.example.com ::1 >v6.out 2>&1 || true
port=$(sed -n 's/.* local=\([0-9]*\)$/\1/p' v6.out)
expect_eq "$(sed 's/ local=.*//' v6.out)" \
    "src=::1 sport=$port dst=::1 dport=$SERVE_PORT authority=pp2.example.com" \
    "PROXY v2 over IPv6: an IPv6 client through the [::1] listener"

# ---- the ALPN and SSL TLVs, read by the second parser --------------------------------------------------
printf 'ping\n' | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername tlv.example.com \
    -CAfile ca.pem -alpn 'http/1.1' -ign_eof >alpn.out 2>&1 &
s_client=$!
i=0
until [ -s tlv.log ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill "$s_client" 2>/dev/null || true
wait "$s_client" 2>/dev/null || true
expect_contains alpn.out "ALPN protocol: http/1.1" "ALPN: the client gets the protocol it asked for"
expect_json tlv.log "the second parser read a PROXY v2 header"
expect_eq "$(json_eval tlv.log 'd["version"]')" 2 "TLV: version 2"
expect_eq "$(json_eval tlv.log 'd["alpn"]')" "http/1.1" "TLV: ALPN http/1.1"
expect_eq "$(json_eval tlv.log 'd["authority"]')" "tlv.example.com" "TLV: AUTHORITY tlv.example.com"
expect_eq "$(json_eval tlv.log 'd["ssl_version"]')" "TLSv1.3" "TLV: SSL version TLSv1.3"
expect_eq "$(json_eval tlv.log 'd["ssl_cipher"]')" "TLS_AES_256_GCM_SHA384" "TLV: SSL cipher"
expect_eq "$(json_eval tlv.log '[t["client"] for t in d["tlvs"] if t["type"] == 0x20][0]')" 1 "TLV: SSL client flag PP2_CLIENT_SSL"
expect_eq "$(json_eval tlv.log 'd["dport"]')" "$SERVE_PORT" "TLV: the destination port is the listener's"
expect_contains alpn.out "ping" "after the header the stream is relayed (the echo came back)"
printf 'x\n' | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername plain.example.com \
    -CAfile ca.pem -alpn h2 >h2.out 2>&1 || true
expect_contains h2.out "ALPN protocol: h2" "ALPN: the server's first choice when the client offers it"
printf 'x\n' | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" -servername plain.example.com \
    -CAfile ca.pem -alpn spdy/1 >none.out 2>&1 || true
expect_contains none.out "No ALPN negotiated" "ALPN: no common protocol: none chosen, the handshake goes on"

# ---- routing: sites and the default backend ----------------------------------------------------------
expect_eq "$(printf 'hello\n' | timeout 10 openssl s_client -connect "127.0.0.1:$SERVE_PORT" \
    -servername plain.example.com -CAfile ca.pem -quiet 2>/dev/null | head -1)" hello \
    "a name no [site] lists goes to [serve]'s backend (an echo, no PROXY header)"

serve_finish
