/* pfx_hammer — READERS threads look HOST up in a store and open the PFX it maps to, over and over,
 * until STOP_FILE exists; then print how many opens succeeded and failed.
 *
 * It reads as a server does — store_resolve() through a parsed cache — but makes every lookup load
 * the file again (a CHANGED event for each candidate first) and judges what that load found, not
 * what is served: the cache's last-good rule would otherwise hide a torn or half-written file. A
 * moment with no file at all shows up as no file served.
 *
 * usage: pfx_hammer STORE HOST PASSWORD_FILE READERS STOP_FILE */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pfx.h"
#include "store/resolve.h"
#include "util/secret.h"

struct shared {
    const char *store, *host, *stop_file, *password;
    atomic_long opens, failures;
    atomic_int reported;
};

/* Why the fresh load of HOST's file would not be served, or NULL. */
static const char *lookup_fresh(struct store_cache *cache, const char *host,
                                struct store_resolution *res, struct errbuf *err)
{
    struct store_event ev = {.kind = STORE_EVENT_CHANGED};

    memset(res, 0, sizeof(*res)); /* releasable whatever happens */
    if (store_resolve_plan(host, strlen(host), &res->plan, err) < 0)
        return err->msg;
    snprintf(ev.name, sizeof(ev.name), "%s", res->plan.exact_file);
    store_cache_apply_event(cache, &ev);
    if (res->plan.wildcard_file[0]) {
        snprintf(ev.name, sizeof(ev.name), "%s", res->plan.wildcard_file);
        store_cache_apply_event(cache, &ev);
    }
    if (store_resolve_planned(cache, &res->plan, 0, res, err) < 0)
        return err->msg;
    for (size_t i = 0; i < res->candidate_count; i++) {
        const struct store_cert *latest = res->candidates[i].latest;
        if (latest)
            return latest->verdict == STORE_CERT_USABLE ? NULL : latest->why;
    }
    return "no file";
}

static void *reader(void *arg)
{
    struct shared *sh = arg;
    struct store *st = NULL;
    struct store_cache *cache = NULL;
    struct errbuf err;

    if (store_open(sh->store, NULL, &st, &err) < 0 ||
        store_cache_new(st, sh->password, NULL, &cache, &err) < 0) {
        fprintf(stderr, "pfx_hammer: %s\n", err.msg);
        atomic_fetch_add(&sh->failures, 1);
        store_close(st);
        return NULL;
    }
    while (access(sh->stop_file, F_OK) != 0) {
        struct store_resolution res;
        const char *why = lookup_fresh(cache, sh->host, &res, &err);

        if (why) {
            atomic_fetch_add(&sh->failures, 1);
            if (atomic_fetch_add(&sh->reported, 1) < 5)
                fprintf(stderr, "pfx_hammer: failed open: %s\n", why);
        } else {
            atomic_fetch_add(&sh->opens, 1);
        }
        store_resolution_release(&res);
    }
    store_cache_free(cache);
    store_close(st);
    return NULL;
}

int main(int argc, char **argv)
{
    struct secret_source src = {.what = "PFX password", .option = "PASSWORD_FILE"};
    struct shared sh = {0};
    struct secret pw;
    struct errbuf err;
    pthread_t threads[64];
    int n;

    if (argc != 6 || (n = atoi(argv[4])) < 1 || n > 64) {
        fprintf(stderr, "usage: pfx_hammer STORE HOST PASSWORD_FILE READERS STOP_FILE\n");
        return 2;
    }
    src.path = argv[3];
    if (pfx_crypto_init(&err) < 0 || secret_load(&src, &pw, &err) < 0) {
        fprintf(stderr, "pfx_hammer: %s\n", err.msg);
        return 2;
    }
    sh.store = argv[1];
    sh.host = argv[2];
    sh.password = pw.value;
    sh.stop_file = argv[5];
    for (int i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, reader, &sh);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    printf("opens=%ld failures=%ld\n", (long)sh.opens, (long)sh.failures);
    secret_free(&pw);
    return sh.failures == 0 && sh.opens > 0 ? 0 : 1;
}
