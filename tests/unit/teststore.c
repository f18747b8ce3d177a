/* teststore.c — the scratch store fixture of teststore.h. */
#include "teststore.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/pfx.h"

int teststore_open(struct test_store *ts, const char *ca_cn)
{
    struct errbuf err;

    memset(ts, 0, sizeof(*ts));
    if (pfx_crypto_init(&err) < 0)
        return -1;
    testcert_ca(&ts->ca, ca_cn);
    ts->dir = testcert_tmpdir();
    ts->now = time(NULL);
    return store_open(ts->dir, NULL, &ts->st, &err) < 0 ? -1 : 0;
}

void teststore_close(struct test_store *ts)
{
    store_close(ts->st);
    testcert_rmdir(ts->dir);
    testcert_ca_free(&ts->ca);
}

struct bytes teststore_leaf_pfx(const struct test_store *ts, const char *sans,
                                const char *password, int no_key,
                                char thumb[THUMBPRINT_HEX_LEN + 1])
{
    struct pfx_bundle b;
    struct cert_summary sum;
    struct bytes data;
    struct errbuf err;

    testcert_leaf(&b, &ts->ca, "store test", sans, ts->now - 3600, ts->now + 90 * 86400L);
    if (no_key) {
        EVP_PKEY_free(b.key);
        b.key = NULL;
    }
    if (pfx_encode(&b, password, PFX_FORMAT_COMPAT, "store test", &data, &err) < 0 ||
        cert_summarise(b.cert, &sum, &err) < 0)
        fail_msg("pfx for %s: %s", sans, err.msg);
    if (thumb)
        memcpy(thumb, sum.thumbprint, THUMBPRINT_HEX_LEN + 1);
    pfx_bundle_free(&b);
    return data;
}

void teststore_put(struct test_store *ts, const char *file, const unsigned char *data, size_t len)
{
    struct bytes b = {(unsigned char *)data, len};
    struct store_write_options w = {.mode = 0, .gid = -1};
    struct errbuf err;

    if (store_write_atomic(ts->st, file, &b, &w, &err) < 0)
        fail_msg("write %s: %s", file, err.msg);
}

void teststore_put_leaf(struct test_store *ts, const char *file, const char *sans,
                        const char *password, int no_key, char thumb[THUMBPRINT_HEX_LEN + 1])
{
    struct bytes data = teststore_leaf_pfx(ts, sans, password, no_key, thumb);

    teststore_put(ts, file, data.data, data.len);
    bytes_free(&data);
}
