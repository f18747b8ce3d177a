/* pfx_hammer — READERS threads look HOST up in a store and open the PFX it maps to, over and over,
 * until STOP_FILE exists; then print how many opens succeeded and failed.
 *
 * It reads exactly as a server does (store_lookup, then pfx_decode with the store password), so a
 * torn or half-written file, or a moment with no file at all, shows up as a failed open.
 *
 * usage: pfx_hammer STORE HOST PASSWORD_FILE READERS STOP_FILE */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/lookup.h"
#include "store/pfx.h"
#include "util/secret.h"

struct shared {
    const char *store, *host, *stop_file, *password;
    atomic_long opens, failures;
    atomic_int reported;
};

static void *reader(void *arg)
{
    struct shared *sh = arg;
    struct store *st = NULL;
    struct errbuf err;

    if (store_open(sh->store, NULL, &st, &err) < 0) {
        fprintf(stderr, "pfx_hammer: %s\n", err.msg);
        atomic_fetch_add(&sh->failures, 1);
        return NULL;
    }
    while (access(sh->stop_file, F_OK) != 0) {
        struct store_lookup_result res;
        struct pfx_decoded dec;
        const char *why = NULL;

        if (store_lookup(st, sh->host, &res, &err) < 0)
            why = err.msg;
        else if (res.rule == STORE_LOOKUP_NONE)
            why = "no file";
        else if (pfx_decode(res.data.data, res.data.len, sh->password, &dec, &err) != PFX_OK)
            why = err.msg;
        else
            pfx_decoded_free(&dec);
        store_lookup_result_free(&res);
        if (why) {
            atomic_fetch_add(&sh->failures, 1);
            if (atomic_fetch_add(&sh->reported, 1) < 5)
                fprintf(stderr, "pfx_hammer: failed open: %s\n", why);
        } else {
            atomic_fetch_add(&sh->opens, 1);
        }
    }
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
