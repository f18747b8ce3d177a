/* Unit tests for src/store/smb_probe.c: NEGOTIATE responses captured from smbd 4.17
 * (tests/fuzz/corpus/smb_negotiate, also the fuzzer's seeds) and damaged copies of them. The
 * probe against a live server runs in the SMB end-to-end tests and the conformance suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/smb_probe.h"

/* The captured responses, found from this file's own path (CMake compiles it by full path). */
static size_t load(const char *name, unsigned char *buf, size_t size)
{
    const char *slash = strrchr(__FILE__, '/');
    char path[4096];
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "%.*s/../fuzz/corpus/smb_negotiate/%s",
             slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".", name);
    fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    n = fread(buf, 1, size, fp);
    fclose(fp);
    return n;
}

struct capture {
    const char *file;
    unsigned dialect;
    int can_encrypt;
};

static const struct capture CAPTURES[] = {
    {"smbd-4.17-311-encrypts", SMB2_DIALECT_311, 1},
    {"smbd-4.17-302-encrypts", SMB2_DIALECT_302, 1},
    {"smbd-4.17-311-no-encryption", SMB2_DIALECT_311, 0},
    {"smbd-4.17-302-no-encryption", SMB2_DIALECT_302, 0},
    {"smbd-4.17-210", SMB2_DIALECT_210, 0},
};

static void test_captured_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CAPTURES) / sizeof(CAPTURES[0]); i++) {
        unsigned char buf[4096];
        size_t len = load(CAPTURES[i].file, buf, sizeof(buf));
        struct smb_server_facts facts;
        struct errbuf err = {""};

        if (smb_probe_parse_response(buf, len, &facts, &err) < 0)
            fail_msg("%s: %s", CAPTURES[i].file, err.msg);
        assert_int_equal(facts.dialect, CAPTURES[i].dialect);
        assert_int_equal(facts.can_encrypt, CAPTURES[i].can_encrypt);
        assert_int_equal(facts.dfs, 1); /* smbd's host msdfs = yes */
    }
}

static void expect_refused(const unsigned char *buf, size_t len, const char *why)
{
    struct smb_server_facts facts;
    struct errbuf err = {""};

    assert_int_equal(smb_probe_parse_response(buf, len, &facts, &err), -1);
    if (!strstr(err.msg, why))
        fail_msg("\"%s\" does not say \"%s\"", err.msg, why);
}

static void test_damaged_responses(void **state)
{
    unsigned char buf[4096], copy[4096];
    size_t len = load("smbd-4.17-311-encrypts", buf, sizeof(buf));
    struct smb_server_facts facts;
    struct errbuf err;
    (void)state;

    /* every truncation short of the fixed part is refused; longer ones never read past LEN */
    for (size_t cut = 0; cut < 128; cut++)
        expect_refused(buf, cut, "not an SMB2 message");
    for (size_t cut = 128; cut < len; cut++) {
        memcpy(copy, buf, cut);
        (void)smb_probe_parse_response(copy, cut, &facts, &err);
    }
    memcpy(copy, buf, len);
    copy[0] = 0xff; /* an SMB1 answer */
    expect_refused(copy, len, "SMB1 only");
    memcpy(copy, buf, len);
    copy[8] = 0x22; /* a status: STATUS_ACCESS_DENIED's low octet */
    expect_refused(copy, len, "refused to negotiate");
    memcpy(copy, buf, len);
    copy[68] = 0x00; /* dialect 0x0900: never offered */
    copy[69] = 0x09;
    expect_refused(copy, len, "was not offered");
    memcpy(copy, buf, len);
    copy[64] = 64; /* StructureSize */
    expect_refused(copy, len, "malformed");
    /* a context count that runs off the end: the walk stops at LEN (ASan would see it) */
    memcpy(copy, buf, len);
    copy[70] = 0xff;
    assert_int_equal(smb_probe_parse_response(copy, len, &facts, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captured_responses),
        cmocka_unit_test(test_damaged_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
