/* teststore.h — a scratch local store with a test CA, the fixture the store unit tests share. */
#ifndef CCS_TESTS_TESTSTORE_H
#define CCS_TESTS_TESTSTORE_H

#include <stddef.h>
#include <time.h>

#include "store/certinfo.h"
#include "store/store.h"
#include "testcert.h"

struct test_store {
    struct test_ca ca;
    char *dir;        /* the store's directory, fresh and empty */
    struct store *st; /* the store opened on DIR */
    time_t now;       /* when the fixture was made: leaves are valid around it */
};

/* A fresh store under $TMPDIR with a CA named CA_CN. 0, or -1 when the store cannot be opened
 * (cmocka setups return it). */
int teststore_open(struct test_store *ts, const char *ca_cn);
void teststore_close(struct test_store *ts);

/* The PFX (compat format, under PASSWORD) of a new leaf the CA signs for SANS ("DNS:a,DNS:b"),
 * valid from an hour ago for 90 days; without its key when NO_KEY. Its thumbprint goes into THUMB
 * when not NULL. Fails the test on error. */
struct bytes teststore_leaf_pfx(const struct test_store *ts, const char *sans,
                                const char *password, int no_key,
                                char thumb[THUMBPRINT_HEX_LEN + 1]);

/* DATA written as FILE through the store (atomically, default mode). */
void teststore_put(struct test_store *ts, const char *file, const unsigned char *data, size_t len);

/* teststore_leaf_pfx written as FILE. */
void teststore_put_leaf(struct test_store *ts, const char *file, const char *sans,
                        const char *password, int no_key, char thumb[THUMBPRINT_HEX_LEN + 1]);

#endif
