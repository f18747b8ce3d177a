/* Unit tests for src/serve/tickets.c: session tickets issued and accepted across contexts sharing
 * one key set (as workers do), kept through TICKET_KEYS_KEPT - 1 rotations, refused after, refused
 * from another key set; and (for TSan) handshakes in several threads while keys rotate. Real TLS
 * handshakes between OpenSSL client and server objects over memory BIO pairs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "serve/tickets.h"
#include "testcert.h"

#define THREADS 4
#define HANDSHAKES_PER_THREAD 40
#define ROTATIONS_DURING 20
/* Steps of the handshake loop: a TLS 1.3 handshake takes 3 or 4 round trips. */
#define HANDSHAKE_STEPS 20

struct fixture {
    struct pfx_bundle cert;
    struct ticket_keys *keys;
    SSL_CTX *server_a, *server_b; /* two "workers" sharing keys */
    SSL_CTX *client;
};

static SSL_CTX *server_ctx(struct fixture *f, struct ticket_keys *keys)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    struct errbuf err;

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, f->cert.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, f->cert.key), 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* tickets only, as tls.c */
    if (ticket_keys_install(ctx, keys, &err) < 0)
        fail_msg("%s", err.msg);
    return ctx;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct errbuf err;
    time_t now = time(NULL);

    testcert_leaf(&f->cert, NULL, "tickets test", "DNS:t.example", now - 60, now + 86400);
    if (ticket_keys_new(&f->keys, &err) < 0)
        fail_msg("%s", err.msg);
    f->server_a = server_ctx(f, f->keys);
    f->server_b = server_ctx(f, f->keys);
    f->client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_session_cache_mode(f->client, SSL_SESS_CACHE_CLIENT);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    SSL_CTX_free(f->server_a);
    SSL_CTX_free(f->server_b);
    SSL_CTX_free(f->client);
    ticket_keys_free(f->keys);
    pfx_bundle_free(&f->cert);
    free(f);
    return 0;
}

/* One handshake at VERSION (offering RESUME's ticket); returns the client's session (with the
 * ticket it got, if any) and sets *REUSED. NULL when the handshake failed. */
static SSL_SESSION *handshake(SSL_CTX *server, SSL_CTX *client, int version, SSL_SESSION *resume,
                              int *reused)
{
    SSL *s = SSL_new(server), *c = SSL_new(client);
    BIO *sb = NULL, *cb = NULL;
    SSL_SESSION *out = NULL;
    unsigned char byte;
    int cdone = 0, sdone = 0;

    BIO_new_bio_pair(&sb, 0, &cb, 0);
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    SSL_set_min_proto_version(c, version);
    SSL_set_max_proto_version(c, version);
    if (resume)
        SSL_set_session(c, resume);
    for (int i = 0; i < HANDSHAKE_STEPS && !(cdone && sdone); i++) {
        if (!cdone)
            cdone = SSL_do_handshake(c) == 1;
        if (!sdone)
            sdone = SSL_do_handshake(s) == 1;
    }
    if (cdone && sdone) {
        /* TLS 1.3 sends tickets after the handshake: let the client read them */
        SSL_read(c, &byte, 1);
        *reused = SSL_session_reused(c);
        out = SSL_get1_session(c);
        /* a connection freed without close_notify marks its session not resumable */
        SSL_shutdown(c);
    }
    ERR_clear_error();
    SSL_free(s);
    SSL_free(c);
    return out;
}

/* Resume with TICKET (a session offered once only: TLS 1.3 clients use a ticket once, RFC 8446
 * §C.4) on SERVER: whether the server accepted it. */
static int resumes(struct fixture *f, SSL_CTX *server, int version, SSL_SESSION *ticket)
{
    int reused = -1;
    SSL_SESSION *again = handshake(server, f->client, version, ticket, &reused);

    assert_non_null(again);
    SSL_SESSION_free(again);
    return reused;
}

static void check_rotations(struct fixture *f, int version)
{
    SSL_SESSION *tickets[3];
    struct errbuf err;
    int reused = -1;

    for (int i = 0; i < 3; i++) { /* three tickets under the first key */
        tickets[i] = handshake(f->server_a, f->client, version, NULL, &reused);
        assert_non_null(tickets[i]);
        assert_int_equal(reused, 0);
        assert_true(SSL_SESSION_has_ticket(tickets[i]));
    }
    /* another worker (context) with the same keys accepts one */
    assert_int_equal(resumes(f, f->server_b, version, tickets[0]), 1);
    /* after TICKET_KEYS_KEPT - 1 rotations the key is still kept */
    for (int i = 0; i < TICKET_KEYS_KEPT - 1; i++)
        assert_int_equal(ticket_keys_rotate(f->keys, &err), 0);
    assert_int_equal(resumes(f, f->server_a, version, tickets[1]), 1);
    /* one more and it is gone: a full handshake */
    assert_int_equal(ticket_keys_rotate(f->keys, &err), 0);
    assert_int_equal(resumes(f, f->server_a, version, tickets[2]), 0);
    for (int i = 0; i < 3; i++)
        SSL_SESSION_free(tickets[i]);
}

static void test_rotation_tls13(void **state)
{
    check_rotations(*state, TLS1_3_VERSION);
}

static void test_rotation_tls12(void **state)
{
    check_rotations(*state, TLS1_2_VERSION);
}

static void test_other_keys_refused(void **state)
{
    struct fixture *f = *state;
    struct ticket_keys *other;
    struct errbuf err;
    SSL_CTX *foreign;
    SSL_SESSION *s, *again;
    int reused = -1;

    assert_int_equal(ticket_keys_new(&other, &err), 0);
    foreign = server_ctx(f, other);
    s = handshake(foreign, f->client, TLS1_3_VERSION, NULL, &reused);
    assert_non_null(s);
    again = handshake(f->server_a, f->client, TLS1_3_VERSION, s, &reused);
    assert_non_null(again);
    assert_int_equal(reused, 0);
    SSL_SESSION_free(again);
    SSL_SESSION_free(s);
    SSL_CTX_free(foreign);
    ticket_keys_free(other);
}

struct worker_arg {
    struct fixture *f;
    SSL_CTX *server;
    int ok;
};

static void *resume_loop(void *arg)
{
    struct worker_arg *w = arg;
    SSL_SESSION *s = NULL;
    int reused;

    for (int i = 0; i < HANDSHAKES_PER_THREAD; i++) {
        SSL_SESSION *next = handshake(w->server, w->f->client, TLS1_3_VERSION, s, &reused);
        if (!next)
            return NULL;
        SSL_SESSION_free(s);
        s = next;
        w->ok++;
    }
    SSL_SESSION_free(s);
    return NULL;
}

/* Handshakes in THREADS threads (two contexts) while the keys rotate: every one completes. */
static void test_threads(void **state)
{
    struct fixture *f = *state;
    struct worker_arg args[THREADS];
    pthread_t threads[THREADS];
    struct errbuf err;
    unsigned long before = ticket_keys_generation(f->keys);

    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct worker_arg){f, i % 2 ? f->server_b : f->server_a, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, resume_loop, &args[i]), 0);
    }
    for (int i = 0; i < ROTATIONS_DURING; i++)
        assert_int_equal(ticket_keys_rotate(f->keys, &err), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].ok, HANDSHAKES_PER_THREAD);
    }
    assert_int_equal(ticket_keys_generation(f->keys), before + ROTATIONS_DURING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_tls13, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_tls12, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_keys_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
