#!/bin/sh
# test_serve_sni.sh — `ccs serve` serves each connection the certificate the store holds for its
# SNI name, by the one served rule (exact, else the wildcard one level up), as real clients see it
# (openssl s_client, curl, gnutls-cli): exact, wildcard, unknown (the default certificate, or an
# alert with `reject`), no SNI, upper-case and trailing-dot names, an IDN, both listeners (IPv4 and
# IPv6); hostile names (`..`, '/', 300 octets, non-ASCII, a NUL) get the default certificate or an
# alert, the server survives them, and they touch no file (strace of every thread of the server,
# and the cache's load counter).
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib.sh"
. "$E2E/acme_lib.sh"
. "$E2E/serve_lib.sh"

serve_store_init
serve_cert www www.example.com 'DNS:www.example.com'
serve_cert wild '*.example.org' 'DNS:*.example.org'
serve_cert dflt default.example.net 'DNS:default.example.net'
serve_cert idn xn--bcher-kva.example 'DNS:xn--bcher-kva.example'
mkdir web && echo 'hello from the backend' >web/hello.txt
acme__reserve_port ECHO_PORT
python3 "$E2E/serve/backend.py" http "$ECHO_PORT" "$T/web" >"$T/http.log" 2>&1 &
acme__track http-backend $!
serve_conf "default-certificate = default.example.net"
serve_start

tp_www=$(cat www.tp) tp_wild=$(cat wild.tp) tp_dflt=$(cat dflt.tp) tp_idn=$(cat idn.tp)

# ---- the served rule, seen by openssl s_client --------------------------------------------------
expect_eq "$(served www.example.com)" "$tp_www" "exact: www.example.com gets www.example.com.pfx"
expect_eq "$(served a.example.org)" "$tp_wild" "wildcard: a.example.org gets _.example.org.pfx"
expect_eq "$(served a.b.example.org)" "$tp_dflt" "a wildcard covers one label only: a.b.example.org gets the default"
expect_eq "$(served example.org)" "$tp_dflt" "the wildcard does not cover its parent: example.org gets the default"
expect_eq "$(served unknown.example.com)" "$tp_dflt" "unknown name: the default certificate"
expect_eq "$(served -)" "$tp_dflt" "no SNI: the default certificate"
expect_eq "$(served WWW.Example.COM)" "$tp_www" "upper-case SNI: served as lower-case"
expect_eq "$(served www.example.com.)" "$tp_www" "trailing-dot SNI: the dot is dropped"
expect_eq "$(served xn--bcher-kva.example)" "$tp_idn" "IDN: the A-label SNI finds the Unicode file bücher.example.pfx"
expect_eq "$(served www.example.com -connect "[::1]:$SERVE_PORT")" "$tp_www" "the IPv6 listener serves too"
expect_eq "$(metric 'ccs_serve_certificate_choices_total{rule="exact"}')" 5 "metrics: 5 exact choices (www x4 and the IDN)"
expect_eq "$(metric 'ccs_serve_certificate_choices_total{rule="wildcard"}')" 1 "metrics: 1 wildcard choice"
expect_eq "$(metric 'ccs_serve_certificate_choices_total{rule="default"}')" 4 "metrics: 4 default choices"
expect_eq "$(metric 'ccs_serve_sni_fallbacks_total{sni="missing"}')" 1 "metrics: one handshake without SNI"

# ---- curl and gnutls-cli: they verify the chain and the name themselves ---------------------------
run_cmd 0 curl.out curl -sS --max-time 10 --cacert ca.pem \
    --resolve "www.example.com:$SERVE_PORT:127.0.0.1" "https://www.example.com:$SERVE_PORT/hello.txt"
expect_contains curl.out 'hello from the backend' "curl: verified www.example.com and got the backend's page"
run_cmd 0 curl-wild.out curl -sS --max-time 10 --cacert ca.pem \
    --resolve "shop.example.org:$SERVE_PORT:127.0.0.1" "https://shop.example.org:$SERVE_PORT/hello.txt"
expect_contains curl-wild.out 'hello from the backend' "curl: verified shop.example.org under the wildcard"
run_cmd 0 gnutls.out sh -c "gnutls-cli --x509cafile ca.pem --port $SERVE_PORT \
    --sni-hostname a.example.org --verify-hostname a.example.org 127.0.0.1 </dev/null"
expect_contains gnutls.out 'The certificate is trusted' "gnutls-cli: verified a.example.org (wildcard)"
run_cmd 1 gnutls-bad.out sh -c "gnutls-cli --x509cafile ca.pem --port $SERVE_PORT \
    --sni-hostname nothing.example.com --verify-hostname nothing.example.com 127.0.0.1 </dev/null"
expect_contains gnutls-bad.out 'does not match' "gnutls-cli: an unknown name gets a certificate that does not name it"

# ---- hostile SNI: default certificate, no crash, no file touched ----------------------------------
served default.example.net >/dev/null # the default certificate cached before the trace starts
loads_before=$(metric ccs_serve_cache_loads_total)
invalid_before=$(metric 'ccs_serve_sni_fallbacks_total{sni="invalid"}')
long=$(python3 -c 'print("61" * 300)') # 300 x "a"
# NAME_HEX:EXPECTED — what the server answers. OpenSSL refuses a host_name over 255 octets or with
# a NUL itself, after the ClientHello callback (which refused it too): unrecognized_name (112).
default_cert="certificate CN=default.example.net"
hostile="2e2e:d 2e2e2f2e2e2f6574632f706173737764:d 2f6574632f706173737764:d $long:112"
hostile="$hostile 62c3bc636865722e6578616d706c65:d 7777772e6578616d706c652e636f6d00657669:112 00:112"
hostile="$hostile 612e2e6578616d706c652e636f6d:d 786e2d2d7a7a7a7a2e6578616d706c65:d"
hostile="$hostile 5f2e6578616d706c652e6f7267:d 2e:d 2a2e6578616d706c652e6f7267:d"
# ".." ; "../../etc/passwd" ; "/etc/passwd" ; 300 octets ; "bücher.example" in raw UTF-8 ;
# "www.example.com" NUL "evi" ; a lone NUL ; "a..example.com" ; "xn--zzzz.example" (bad punycode);
# "_.example.org" (a wildcard file's own name) ; "." ; "*.example.org"
# -f with -p attaches every thread of the process
strace -qq -f -e trace=%file,%stat,accept4,epoll_wait -o "$T/strace.txt" -p "$SERVE_PID" &
strace_pid=$!
acme__track strace "$strace_pid"
i=0 # wait until every thread of the server is traced
while [ $i -lt 100 ]; do
    untraced=0
    for t in /proc/"$SERVE_PID"/task/*; do
        [ "$(awk '/^TracerPid/ { print $2 }' "$t/status")" != 0 ] || untraced=1
    done
    [ $untraced = 0 ] && break
    sleep 0.1
    i=$((i + 1))
done
expect_eq "$untraced" 0 "strace is attached to every thread of the server"
n=0
for case in $hostile; do
    n=$((n + 1))
    h=${case%:*} want=${case#*:}
    [ "$want" = d ] && want=$default_cert || want="alert $want"
    got=$(python3 "$E2E/serve/raw_hello.py" "$SERVE_PORT" "$h" 2>&1)
    expect_eq "$got" "$want" "hostile SNI $n ($(printf '%.40s' "$h")): $want"
done
acme__kill "$strace_pid"
kill -0 "$SERVE_PID" && ok "the server survived the hostile names" || fail "the server died"
grep -v -E 'accept4|epoll_wait|^[0-9]+ +(\+\+\+|---)' "$T/strace.txt" >"$T/strace.files" || true
if [ -s "$T/strace.files" ]; then
    fail "hostile SNI: the server touched files:"
    sed 's/^/    /' "$T/strace.files" >&2
else
    ok "hostile SNI: no file opened or stat'ed by any thread of the server (strace)"
fi
# the trace must have seen every hostile connection accepted, or it proves nothing
accepted=$(grep -c 'accept4(.*= [0-9]' "$T/strace.txt" || true)
if [ "$accepted" -ge "$n" ]; then ok "strace saw the $n connections accepted"; else
    fail "strace saw $accepted accepted connections, not $n: it proves nothing"
    head -20 "$T/strace.txt" >&2
fi
expect_eq "$(metric ccs_serve_cache_loads_total)" "$loads_before" "hostile SNI: no store load (cache load counter unchanged)"
expect_eq "$(metric 'ccs_serve_sni_fallbacks_total{sni="invalid"}')" "$((invalid_before + n))" "hostile SNI: each counted as invalid"

# ---- default-certificate = reject: an alert instead ------------------------------------------------
serve_stop
serve_conf "default-certificate = reject"
serve_start
expect_eq "$(served www.example.com)" "$tp_www" "reject: a known name is still served"
expect_eq "$(served unknown.example.com)" "alert 112" "reject: an unknown name gets the unrecognized_name alert"
expect_eq "$(served -)" "alert 40" "reject: no SNI gets the handshake_failure alert"
for h in 2e2e $long 7777772e6578616d706c652e636f6d00657669; do
    expect_eq "$(python3 "$E2E/serve/raw_hello.py" "$SERVE_PORT" "$h" 2>&1)" "alert 112" "reject: hostile SNI ${h%"${h#????????}"}... gets an alert"
done
expect_eq "$(python3 "$E2E/serve/raw_hello.py" "$SERVE_PORT" 7777772e6578616d706c652e636f6d 2>&1)" \
    "certificate CN=www.example.com" "the hand-made hello itself works (a valid name gets its certificate)"
expect_eq "$(metric 'ccs_serve_handshakes_total{result="no_certificate",protocol="none"}')" 5 "metrics: 5 handshakes ended with an alert"
kill -0 "$SERVE_PID" && ok "the server survived" || fail "the server died"

serve_finish
