/* serve.h — `ccs serve`: a TLS terminator that takes each connection's certificate from the store
 * by SNI and relays the plaintext to a backend (man ccs-serve(1)).
 *
 *   serve.c      start-up, privileges, threads, signals (SIGHUP reload, SIGTERM drain)
 *   settings.c   ccs.conf's [serve] and [site] made ready to run
 *   worker.c     a thread with a libev loop and its SO_REUSEPORT listeners
 *   conn.c       a connection: handshake, backend connect, relay, timeouts
 *   handshake.c  the certificate of a ClientHello, by SNI, through the store core
 *   tls.c        the TLS context, the SNI extension, a certificate on a connection
 *   relay.c      the bounded two-way relay with half-close
 *   proxy_protocol.c  the PROXY v1/v2 header
 *   loader.c     store loads off the event loops
 *   changes.c    the store's change feed applied to the cache
 *   tickets.c    session ticket keys, rotated, shared by the workers
 *   served.c     the certificates held ready, with their expiry
 *   stats.c, admin.c  counters, /metrics and /healthz
 *   check.c      `ccs serve --check` */
#ifndef CCS_SERVE_SERVE_H
#define CCS_SERVE_SERVE_H

/* Where the store password comes from when systemd passes it (LoadCredential=): this credential
 * wins over the [store]'s password-file, which a service running as its own user may not read. */
#define SERVE_PASSWORD_CREDENTIAL "ccs-pfx-password"

/* Test-only knobs (tests/e2e/test_serve_*.sh): every store load waits this many milliseconds
 * first, or only loads of files matching the fnmatch(3) pattern in the second variable. */
#define SERVE_TEST_LOAD_DELAY_ENV "CCS_TEST_SERVE_LOAD_DELAY_MS"
#define SERVE_TEST_LOAD_DELAY_MATCH_ENV "CCS_TEST_SERVE_LOAD_DELAY_MATCH"
/* Test-only: the change feed sets up its watch this many milliseconds late (changes.h), to widen
 * the window between the first handshakes and the watch (test_serve_changes.sh). */
#define SERVE_TEST_WATCH_DELAY_ENV "CCS_TEST_SERVE_WATCH_DELAY_MS"

struct config;
struct secret;
struct errbuf;

/* config_load(), logging every error as FILE:LINE: message. */
int serve_config_load(const char *path, struct config *cfg);

/* The password of store STORE_NAME: the systemd credential SERVE_PASSWORD_CREDENTIAL when there
 * is one, else PASSWORD_FILE (the [store]'s password-file). */
int serve_store_password(const char *store_name, const char *password_file, struct secret *out,
                         struct errbuf *err);

/* Run the server of CONFIG_PATH until SIGTERM or SIGINT. Returns the process's exit status: 0
 * after a clean stop, 1 when it could not start (the reason was logged). */
int serve_run(const char *config_path);

#endif
