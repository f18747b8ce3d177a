/* Unit tests for src/serve/proxy_protocol.c: PROXY v1 lines and v2 headers, octet for octet, for
 * IPv4, IPv6, IPv4-mapped IPv6 and unrepresentable addresses, with and without the TLVs. The
 * expected octets are written out from HAProxy's proxy-protocol.txt, not produced by the code. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "serve/proxy_protocol.h"

static struct sockaddr_in v4(const char *addr, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    return a;
}

static struct sockaddr_in6 v6(const char *addr, unsigned port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET6, addr, &a.sin6_addr), 1);
    return a;
}

static void expect_v1(const struct sockaddr *src, const struct sockaddr *dst, const char *want)
{
    struct proxy_info info = {.src = src, .dst = dst};
    unsigned char out[PROXY_HEADER_MAX];
    size_t len = 99;

    assert_int_equal(proxy_header_build(PROXY_PROTOCOL_V1, &info, out, sizeof(out), &len), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
}

static void test_v1(void **state)
{
    struct sockaddr_in a = v4("192.0.2.1", 56324), b = v4("198.51.100.7", 443);
    struct sockaddr_in6 c = v6("2001:db8::1", 1), d = v6("2001:db8::ff", 65535);
    struct sockaddr_in6 mc = v6("::ffff:192.0.2.1", 5), md = v6("::ffff:198.51.100.7", 443);
    struct sockaddr_un u = {.sun_family = AF_UNIX};

    (void)state;
    expect_v1((struct sockaddr *)&a, (struct sockaddr *)&b,
              "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
    expect_v1((struct sockaddr *)&c, (struct sockaddr *)&d,
              "PROXY TCP6 2001:db8::1 2001:db8::ff 1 65535\r\n");
    /* IPv4-mapped addresses (a dual-stack socket) are IPv4 */
    expect_v1((struct sockaddr *)&mc, (struct sockaddr *)&md,
              "PROXY TCP4 192.0.2.1 198.51.100.7 5 443\r\n");
    /* two families, or one that has no TCP4/TCP6 form */
    expect_v1((struct sockaddr *)&a, (struct sockaddr *)&d, "PROXY UNKNOWN\r\n");
    expect_v1((struct sockaddr *)&u, (struct sockaddr *)&u, "PROXY UNKNOWN\r\n");
    expect_v1(NULL, NULL, "PROXY UNKNOWN\r\n");
}

static void test_v1_longest_fits(void **state)
{
    /* the longest possible line (§2.1: 107 octets with CRLF) */
    struct sockaddr_in6 s = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
    struct sockaddr_in6 d = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", 65535);
    struct proxy_info info = {.src = (struct sockaddr *)&s, .dst = (struct sockaddr *)&d};
    unsigned char out[PROXY_HEADER_MAX];
    size_t len;

    (void)state;
    assert_int_equal(proxy_header_build(PROXY_PROTOCOL_V1, &info, out, sizeof(out), &len), 0);
    assert_int_equal(len, 104);
    assert_true(len <= PROXY_V1_MAX);
}

#define SIG 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A

static void expect_v2(const struct proxy_info *info, const unsigned char *want, size_t want_len)
{
    unsigned char out[PROXY_HEADER_MAX];
    size_t len = 0;

    assert_int_equal(proxy_header_build(PROXY_PROTOCOL_V2, info, out, sizeof(out), &len), 0);
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, len);
}

static void test_v2_addresses(void **state)
{
    struct sockaddr_in a = v4("192.0.2.1", 0x1234), b = v4("198.51.100.7", 443);
    struct sockaddr_in6 c = v6("2001:db8::1", 1), d = v6("2001:db8::ff", 0xABCD);
    struct proxy_info i4 = {.src = (struct sockaddr *)&a, .dst = (struct sockaddr *)&b};
    struct proxy_info i6 = {.src = (struct sockaddr *)&c, .dst = (struct sockaddr *)&d};
    struct proxy_info mixed = {.src = (struct sockaddr *)&a, .dst = (struct sockaddr *)&d};
    static const unsigned char want4[] = {SIG, 0x21, 0x11, 0x00, 0x0C, 192, 0,   2,    1,
                                          198, 51,  100,  7,    0x12, 0x34, 0x01, 0xBB};
    static const unsigned char want6[] = {
        SIG,  0x21, 0x21, 0x00, 0x24,                                                 /* header */
        0x20, 0x01, 0x0d, 0xb8, 0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,             /* src */
        0x20, 0x01, 0x0d, 0xb8, 0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,             /* dst */
        0x00, 0x01, 0xAB, 0xCD};
    static const unsigned char want_unspec[] = {SIG, 0x21, 0x00, 0x00, 0x00};

    (void)state;
    expect_v2(&i4, want4, sizeof(want4));
    expect_v2(&i6, want6, sizeof(want6));
    expect_v2(&mixed, want_unspec, sizeof(want_unspec));
}

static void test_v2_tlvs(void **state)
{
    struct sockaddr_in a = v4("10.0.0.1", 1), b = v4("10.0.0.2", 2);
    struct proxy_info info = {
        .src = (struct sockaddr *)&a,
        .dst = (struct sockaddr *)&b,
        .authority = "www.example.com",
        .alpn = (const unsigned char *)"h2",
        .alpn_len = 2,
        .tls_version = "TLSv1.3",
        .cipher = "TLS_AES_128_GCM_SHA256",
    };
    static const unsigned char want[] = {
        SIG, 0x21, 0x11, 0x00, 12 + 5 + 18 + 3 + 5 + 10 + 25, /* addresses + the TLVs below */
        10, 0, 0, 1, 10, 0, 0, 2, 0x00, 0x01, 0x00, 0x02,
        0x01, 0x00, 0x02, 'h', '2',                                   /* PP2_TYPE_ALPN */
        0x02, 0x00, 0x0F, 'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o',
        'm',                                                          /* PP2_TYPE_AUTHORITY */
        0x20, 0x00, 5 + 10 + 25,                                      /* PP2_TYPE_SSL */
        0x01, 0x00, 0x00, 0x00, 0x01,                                 /* client SSL, verify 1 */
        0x21, 0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3',          /* version */
        0x23, 0x00, 0x16, 'T', 'L', 'S', '_', 'A', 'E', 'S', '_', '1', '2', '8', '_', 'G', 'C',
        'M', '_', 'S', 'H', 'A', '2', '5', '6',                       /* cipher */
    };

    (void)state;
    expect_v2(&info, want, sizeof(want));
}

static void test_off_and_too_small(void **state)
{
    struct sockaddr_in a = v4("10.0.0.1", 1), b = v4("10.0.0.2", 2);
    struct proxy_info info = {.src = (struct sockaddr *)&a, .dst = (struct sockaddr *)&b,
                              .authority = "www.example.com"};
    unsigned char out[PROXY_HEADER_MAX];
    size_t len = 7;

    (void)state;
    assert_int_equal(proxy_header_build(PROXY_PROTOCOL_OFF, &info, out, sizeof(out), &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(proxy_header_build(PROXY_PROTOCOL_V2, &info, out, 20, &len), -1);
    assert_int_equal(proxy_header_build(PROXY_PROTOCOL_V1, &info, out, 20, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v1_longest_fits),
        cmocka_unit_test(test_v2_addresses),
        cmocka_unit_test(test_v2_tlvs),
        cmocka_unit_test(test_off_and_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
