/* Unit tests for src/acme/parse.c: every parser of what a CA sends, on documents shaped like what
 * real CAs send (Pebble's responses, RFC 8555 / RFC 9773 examples, Let's Encrypt's directory),
 * and on the ways they can be wrong. Every result is freed, also after a failure, so the ASan
 * build catches leaks on error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acme/parse.h"

#define LEN(s) (sizeof(s) - 1)

/* The message of a failed parse must contain each of the NULL-terminated strings. */
static void assert_msg_has(const char *msg, ...)
{
    va_list ap;
    const char *want;

    va_start(ap, msg);
    while ((want = va_arg(ap, const char *)) != NULL)
        if (!strstr(msg, want))
            fail_msg("message \"%s\" lacks \"%s\"", msg, want);
    va_end(ap);
}

/* ---- RFC 3339 times ------------------------------------------------------------------------ */

static void assert_time(const char *text, time_t want)
{
    time_t got = 12345;
    if (acme_parse_time(text, &got) != 0)
        fail_msg("\"%s\" rejected", text);
    if (got != want)
        fail_msg("\"%s\": got %lld, want %lld", text, (long long)got, (long long)want);
}

static void assert_time_rejected(const char *text)
{
    /* In a zero-filled buffer larger than the text, so a read past its NUL finds more NULs and
     * shows up as a wrong acceptance even without ASan. */
    char buf[64] = {0};
    time_t t;

    assert_true(strlen(text) < sizeof(buf) - 8);
    memcpy(buf, text, strlen(text));
    if (acme_parse_time(buf, &t) != -1)
        fail_msg("\"%s\" accepted as %lld", text, (long long)t);
}

static void test_time_utc(void **state)
{
    (void)state;
    assert_time("2025-01-02T04:00:00Z", 1735790400);
    assert_time("2025-01-02T04:00:00z", 1735790400);
    assert_time("1970-01-01T00:00:00Z", 0);
    assert_time("2024-02-29T00:00:00Z", 1709164800);
    assert_time("2026-11-28T05:55:39Z", 1795845339); /* Pebble's "expires" */
}

static void test_time_fractions(void **state)
{
    (void)state;
    /* RFC 8555's examples carry hundredths; fractions are dropped, not rounded. */
    assert_time("2016-01-20T14:09:07.99Z", 1453298947);
    assert_time("2016-01-20T14:09:07.000000001Z", 1453298947);
    assert_time("2016-01-20T14:09:07.5+00:00", 1453298947);
}

static void test_time_offsets(void **state)
{
    (void)state;
    assert_time("2025-03-01T12:00:00+01:00", 1740826800);
    assert_time("2025-03-01T00:00:00+05:30", 1740767400);
    assert_time("1996-12-19T16:39:57-08:00", 851042397);      /* RFC 3339 §5.8 */
    assert_time("1985-04-12T23:20:50.52-08:00", 482224850); /* fraction and offset */
    assert_time("2025-01-02T04:00:00+00:00", 1735790400);
    assert_time("2025-01-02T04:00:00-00:00", 1735790400);
}

static void test_time_rejected(void **state)
{
    (void)state;
    assert_time_rejected("");
    assert_time_rejected("2025-01-02");
    assert_time_rejected("2025-01-02T04:00:00");       /* no zone */
    assert_time_rejected("2025-01-02 04:00:00Z");      /* RFC 3339 allows it; ACME uses 'T' */
    assert_time_rejected("2025-01-02T04:00:00Zjunk");
    assert_time_rejected("2025-01-02T04:00:00+0100"); /* ISO 8601 basic offset */
    assert_time_rejected("2025-01-02T04:00:00+01:00x");
    assert_time_rejected("2025-13-02T04:00:00Z");
    assert_time_rejected("2025-01-02T24:00:01Z");
    assert_time_rejected("Thu, 02 Jan 2025 04:00:00 GMT");
    assert_time_rejected("1735790400");
}

/* Offsets that are not exactly ("+" / "-") 2DIGIT ":" 2DIGIT. The first two make
 * acme_parse_time step past the string's NUL (it skips 6 characters after sscanf matched fewer):
 * a heap over-read under ASan, and acceptance of garbage without it. */
static void test_time_bad_offsets(void **state)
{
    (void)state;
    assert_time_rejected("2025-01-02T04:00:00+1:00");
    assert_time_rejected("2025-01-02T04:00:00+01:0");
    assert_time_rejected("2025-01-02T04:00:00+1:2");
    assert_time_rejected("2025-01-02T04:00:00+-1:-1");
    assert_time_rejected("2025-01-02T04:00:00+ 1: 1");
    assert_time_rejected("2025-01-02T04:00:00+99:99");
}

/* Outside RFC 3339 §5.6, though strptime("%Y-%m-%dT%H:%M:%S") lets them through: it skips
 * blanks before numbers, takes fewer digits than the grammar, and timegm rolls June 31 over to
 * July 1. */
static void test_time_not_rfc3339(void **state)
{
    (void)state;
    assert_time_rejected("2025-06-31T00:00:00Z");
    assert_time_rejected("2025-02-29T00:00:00Z");
    assert_time_rejected("25-01-02T04:00:00Z");
    assert_time_rejected("2025-1-2T4:0:0Z");
    assert_time_rejected("2025- 1- 2T 4: 0: 0Z");
    assert_time_rejected(" 2025-01-02T04:00:00Z");
    assert_time_rejected("2025-01-02T04:00:00.Z");
}

/* ---- problem documents --------------------------------------------------------------------- */

static const char problem_subproblems[] =
    "{\n"
    "  \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
    "  \"detail\": \"Some of the identifiers requested were rejected\",\n"
    "  \"status\": 400,\n"
    "  \"subproblems\": [\n"
    "    { \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
    "      \"detail\": \"Invalid underscore in DNS name \\\"_example.org\\\"\",\n"
    "      \"identifier\": { \"type\": \"dns\", \"value\": \"_example.org\" } },\n"
    "    { \"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\",\n"
    "      \"detail\": \"This CA will not issue for \\\"example.net\\\"\",\n"
    "      \"identifier\": { \"type\": \"dns\", \"value\": \"example.net\" } }\n"
    "  ]\n"
    "}\n";

static void test_problem_subproblems(void **state)
{
    struct acme_problem p;
    struct errbuf err = {""};
    char text[512];

    (void)state;
    assert_int_equal(acme_parse_problem(problem_subproblems, LEN(problem_subproblems), &p, &err),
                     0);
    assert_string_equal(p.type, "urn:ietf:params:acme:error:malformed");
    assert_string_equal(p.detail, "Some of the identifiers requested were rejected");
    assert_int_equal(p.status, 400);
    assert_int_equal(p.subproblem_count, 2);
    assert_string_equal(p.subproblems[0].type, "urn:ietf:params:acme:error:malformed");
    assert_string_equal(p.subproblems[0].identifier_type, "dns");
    assert_string_equal(p.subproblems[0].identifier_value, "_example.org");
    assert_string_equal(p.subproblems[1].type, "urn:ietf:params:acme:error:rejectedIdentifier");
    assert_string_equal(p.subproblems[1].detail, "This CA will not issue for \"example.net\"");
    assert_string_equal(p.subproblems[1].identifier_value, "example.net");

    acme_problem_describe(&p, text, sizeof(text));
    assert_string_equal(text, "malformed: Some of the identifiers requested were rejected "
                              "[_example.org: malformed: Invalid underscore in DNS name "
                              "\"_example.org\"; example.net: rejectedIdentifier: This CA will "
                              "not issue for \"example.net\"]");
    acme_problem_free(&p);
    assert_null(p.subproblems);
    assert_int_equal(p.subproblem_count, 0);
}

static void test_problem_pebble(void **state)
{
    static const char doc[] = "{\n"
                              "   \"type\": \"urn:ietf:params:acme:error:badNonce\",\n"
                              "   \"detail\": \"JWS has an invalid anti-replay nonce: AAAA\",\n"
                              "   \"status\": 400\n"
                              "}";
    struct acme_problem p;
    struct errbuf err = {""};
    char text[256];

    (void)state;
    assert_int_equal(acme_parse_problem(doc, LEN(doc), &p, &err), 0);
    assert_int_equal(p.status, 400);
    assert_int_equal(p.subproblem_count, 0);
    acme_problem_describe(&p, text, sizeof(text));
    assert_string_equal(text, "badNonce: JWS has an invalid anti-replay nonce: AAAA");
    acme_problem_free(&p);
}

static void test_problem_describe_edges(void **state)
{
    static const char bare[] = "{\"status\":500}";
    static const char other_ns[] = "{\"type\":\"about:blank\",\"detail\":\"x\","
                                   "\"subproblems\":[{\"detail\":\"no identifier\"}]}";
    struct acme_problem p;
    struct errbuf err = {""};
    char text[256], tiny[10];

    (void)state;
    assert_int_equal(acme_parse_problem(bare, LEN(bare), &p, &err), 0);
    acme_problem_describe(&p, text, sizeof(text));
    assert_string_equal(text, "error: (no detail)");
    acme_problem_free(&p);

    assert_int_equal(acme_parse_problem(other_ns, LEN(other_ns), &p, &err), 0);
    acme_problem_describe(&p, text, sizeof(text));
    assert_string_equal(text, "about:blank: x [?: error: no identifier]");
    acme_problem_free(&p);

    /* Truncates, NUL-terminated, never past the buffer. */
    assert_int_equal(
        acme_parse_problem(problem_subproblems, LEN(problem_subproblems), &p, &err), 0);
    memset(tiny, 'x', sizeof(tiny));
    acme_problem_describe(&p, tiny, sizeof(tiny));
    assert_string_equal(tiny, "malformed");
    for (size_t size = 1; size < LEN(problem_subproblems); size += 7) {
        char *buf = test_malloc(size);
        acme_problem_describe(&p, buf, size);
        assert_true(strlen(buf) < size);
        test_free(buf);
    }
    acme_problem_free(&p);
}

static void test_problem_bad(void **state)
{
    struct acme_problem p;
    struct errbuf err = {""};

    (void)state;
#define BAD_PROBLEM(doc, ...)                                                                      \
    do {                                                                                           \
        err.msg[0] = '\0';                                                                         \
        assert_int_equal(acme_parse_problem(doc, LEN(doc), &p, &err), -1);                         \
        assert_msg_has(err.msg, "problem document", __VA_ARGS__, (const char *)NULL);              \
        acme_problem_free(&p);                                                                     \
    } while (0)
    BAD_PROBLEM("<html>502 Bad Gateway</html>", "not valid JSON");
    BAD_PROBLEM("[]", "not a JSON object");
    BAD_PROBLEM("{\"type\":7}", "\"type\" is not a string");
    BAD_PROBLEM("{\"detail\":[\"x\"]}", "\"detail\" is not a string");
    BAD_PROBLEM("{\"subproblems\":{}}", "\"subproblems\"");
    BAD_PROBLEM("{\"subproblems\":[\"x\"]}", "subproblem 0 is not an object");
    BAD_PROBLEM("{\"subproblems\":[{},{\"type\":false}]}", "\"type\" is not a string");
    BAD_PROBLEM("{\"type\":\"a\",\"type\":\"b\"}", "not valid JSON"); /* duplicate member */
    /* jansson refuses \u0000 (no JSON_ALLOW_NUL): no string with a NUL inside gets through */
    BAD_PROBLEM("{\"detail\":\"a\\u0000b\"}", "not valid JSON");
#undef BAD_PROBLEM
}

/* ---- directory ----------------------------------------------------------------------------- */

/* Let's Encrypt's, 2025: ARI, profiles, and a random member clients must ignore. */
static const char directory_le[] =
    "{\n"
    "  \"keyChange\": \"https://acme-v02.api.letsencrypt.org/acme/key-change\",\n"
    "  \"meta\": {\n"
    "    \"caaIdentities\": [\"letsencrypt.org\"],\n"
    "    \"profiles\": {\n"
    "      \"classic\": \"https://letsencrypt.org/docs/profiles#classic\",\n"
    "      \"shortlived\": \"https://letsencrypt.org/docs/profiles#shortlived\",\n"
    "      \"tlsserver\": \"https://letsencrypt.org/docs/profiles#tlsserver\"\n"
    "    },\n"
    "    \"termsOfService\": \"https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf\",\n"
    "    \"website\": \"https://letsencrypt.org\"\n"
    "  },\n"
    "  \"newAccount\": \"https://acme-v02.api.letsencrypt.org/acme/new-acct\",\n"
    "  \"newNonce\": \"https://acme-v02.api.letsencrypt.org/acme/new-nonce\",\n"
    "  \"newOrder\": \"https://acme-v02.api.letsencrypt.org/acme/new-order\",\n"
    "  \"renewalInfo\": \"https://acme-v02.api.letsencrypt.org/acme/renewal-info\",\n"
    "  \"revokeCert\": \"https://acme-v02.api.letsencrypt.org/acme/revoke-cert\",\n"
    "  \"uY7wxEdL7Bw\": \"https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417\"\n"
    "}\n";

/* Pebble 2.4's: no ARI, no profiles, externalAccountRequired false. */
static const char directory_pebble[] =
    "{\n"
    "   \"keyChange\": \"https://127.0.0.1:14000/rollover-account-key\",\n"
    "   \"meta\": {\n"
    "      \"externalAccountRequired\": false,\n"
    "      \"termsOfService\": \"data:text/plain,Do%20what%20thou%20wilt\"\n"
    "   },\n"
    "   \"newAccount\": \"https://127.0.0.1:14000/sign-me-up\",\n"
    "   \"newNonce\": \"https://127.0.0.1:14000/nonce-plz\",\n"
    "   \"newOrder\": \"https://127.0.0.1:14000/order-plz\",\n"
    "   \"revokeCert\": \"https://127.0.0.1:14000/revoke-cert\"\n"
    "}";

static void test_directory_le(void **state)
{
    struct acme_directory d;
    struct errbuf err = {""};
    int seen = 0;

    (void)state;
    assert_int_equal(acme_parse_directory(directory_le, LEN(directory_le), &d, &err), 0);
    assert_string_equal(d.new_nonce, "https://acme-v02.api.letsencrypt.org/acme/new-nonce");
    assert_string_equal(d.new_account, "https://acme-v02.api.letsencrypt.org/acme/new-acct");
    assert_string_equal(d.new_order, "https://acme-v02.api.letsencrypt.org/acme/new-order");
    assert_null(d.new_authz);
    assert_string_equal(d.renewal_info, "https://acme-v02.api.letsencrypt.org/acme/renewal-info");
    assert_string_equal(d.key_change, "https://acme-v02.api.letsencrypt.org/acme/key-change");
    assert_string_equal(d.website, "https://letsencrypt.org");
    assert_non_null(strstr(d.terms_of_service, "LE-SA-v1.5"));
    assert_int_equal(d.external_account_required, 0);
    assert_int_equal(d.profile_count, 3);
    for (size_t i = 0; i < d.profile_count; i++) {
        if (strcmp(d.profiles[i].name, "shortlived") == 0) {
            assert_string_equal(d.profiles[i].description,
                                "https://letsencrypt.org/docs/profiles#shortlived");
            seen++;
        }
        if (strcmp(d.profiles[i].name, "classic") == 0)
            seen++;
    }
    assert_int_equal(seen, 2);
    acme_directory_free(&d);
    assert_null(d.profiles);
}

static void test_directory_pebble(void **state)
{
    struct acme_directory d;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_directory(directory_pebble, LEN(directory_pebble), &d, &err), 0);
    assert_string_equal(d.new_nonce, "https://127.0.0.1:14000/nonce-plz");
    assert_null(d.renewal_info);
    assert_null(d.website);
    assert_string_equal(d.terms_of_service, "data:text/plain,Do%20what%20thou%20wilt");
    assert_int_equal(d.external_account_required, 0);
    assert_int_equal(d.profile_count, 0);
    assert_null(d.profiles);
    acme_directory_free(&d);
}

static void test_directory_eab_and_minimal(void **state)
{
    static const char eab[] =
        "{\"newNonce\":\"https://ca.example/nonce\",\"newAccount\":\"https://ca.example/acct\","
        "\"newOrder\":\"https://ca.example/order\",\"newAuthz\":\"https://ca.example/authz\","
        "\"meta\":{\"externalAccountRequired\":true,\"profiles\":{\"odd\":42}}}";
    static const char minimal[] = "{\"newNonce\":\"n\",\"newAccount\":\"a\",\"newOrder\":\"o\"}";
    struct acme_directory d;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_directory(eab, LEN(eab), &d, &err), 0);
    assert_int_equal(d.external_account_required, 1);
    assert_string_equal(d.new_authz, "https://ca.example/authz");
    assert_int_equal(d.profile_count, 1);
    assert_string_equal(d.profiles[0].name, "odd");
    assert_string_equal(d.profiles[0].description, ""); /* not a string: no description */
    acme_directory_free(&d);

    assert_int_equal(acme_parse_directory(minimal, LEN(minimal), &d, &err), 0);
    assert_int_equal(d.external_account_required, 0);
    assert_null(d.terms_of_service);
    assert_null(d.renewal_info);
    assert_int_equal(d.profile_count, 0);
    acme_directory_free(&d);
}

static void test_directory_bad(void **state)
{
    struct acme_directory d;
    struct errbuf err = {""};

    (void)state;
#define BAD_DIRECTORY(doc, ...)                                                                    \
    do {                                                                                           \
        err.msg[0] = '\0';                                                                         \
        assert_int_equal(acme_parse_directory(doc, LEN(doc), &d, &err), -1);                       \
        assert_msg_has(err.msg, "ACME directory", __VA_ARGS__, (const char *)NULL);                \
        acme_directory_free(&d);                                                                   \
    } while (0)
    BAD_DIRECTORY("", "not valid JSON");
    BAD_DIRECTORY("[\"https://ca.example/dir\"]", "not a JSON object");
    BAD_DIRECTORY("{\"newAccount\":\"a\",\"newOrder\":\"o\"}", "missing \"newNonce\"");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newOrder\":\"o\"}", "missing \"newAccount\"");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newAccount\":\"a\"}", "missing \"newOrder\"");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newAccount\":\"a\",\"newOrder\":1}",
                  "\"newOrder\" is not a string");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newAccount\":\"a\",\"newOrder\":\"o\",\"renewalInfo\":{}}",
                  "\"renewalInfo\" is not a string");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newAccount\":\"a\",\"newOrder\":\"o\",\"meta\":[]}",
                  "\"meta\" is not an object");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newAccount\":\"a\",\"newOrder\":\"o\","
                  "\"meta\":{\"termsOfService\":true}}",
                  "\"termsOfService\" is not a string");
    BAD_DIRECTORY("{\"newNonce\":\"n\",\"newAccount\":\"a\",\"newOrder\":\"o\","
                  "\"meta\":{\"profiles\":[\"classic\"]}}",
                  "\"meta.profiles\"");
    BAD_DIRECTORY("{\"newNonce\":\"n\\u0000evil\",\"newAccount\":\"a\",\"newOrder\":\"o\"}",
                  "not valid JSON");
#undef BAD_DIRECTORY
}

/* ---- account ------------------------------------------------------------------------------- */

static void test_account(void **state)
{
    static const char doc[] = "{\n"
                              "  \"status\": \"valid\",\n"
                              "  \"contact\": [\n"
                              "    \"mailto:cert-admin@example.org\",\n"
                              "    \"mailto:admin@example.org\"\n"
                              "  ],\n"
                              "  \"termsOfServiceAgreed\": true,\n"
                              "  \"orders\": \"https://example.com/acme/orders/rzGoeA\",\n"
                              "  \"key\": {\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"-OQg\",\"y\":\"4F11\"}\n"
                              "}";
    static const char pebble_deactivated[] =
        "{\"status\":\"deactivated\",\"orders\":\"https://127.0.0.1:14000/list-orderz/7c9f\"}";
    struct acme_account a;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_account(doc, LEN(doc), &a, &err), 0);
    assert_string_equal(a.status, "valid");
    assert_int_equal(a.contact_count, 2);
    assert_string_equal(a.contact[0], "mailto:cert-admin@example.org");
    assert_string_equal(a.contact[1], "mailto:admin@example.org");
    assert_int_equal(a.terms_agreed, 1);
    assert_string_equal(a.orders, "https://example.com/acme/orders/rzGoeA");
    acme_account_free(&a);

    assert_int_equal(acme_parse_account(pebble_deactivated, LEN(pebble_deactivated), &a, &err), 0);
    assert_string_equal(a.status, "deactivated");
    assert_int_equal(a.contact_count, 0);
    assert_int_equal(a.terms_agreed, 0);
    acme_account_free(&a);
}

static void test_account_bad(void **state)
{
    struct acme_account a;
    struct errbuf err = {""};

    (void)state;
#define BAD_ACCOUNT(doc, ...)                                                                      \
    do {                                                                                           \
        err.msg[0] = '\0';                                                                         \
        assert_int_equal(acme_parse_account(doc, LEN(doc), &a, &err), -1);                         \
        assert_msg_has(err.msg, "ACME account", __VA_ARGS__, (const char *)NULL);                  \
        acme_account_free(&a);                                                                     \
    } while (0)
    BAD_ACCOUNT("{\"contact\":[]}", "missing \"status\"");
    BAD_ACCOUNT("{\"status\":null}", "missing \"status\"");
    BAD_ACCOUNT("{\"status\":[\"valid\"]}", "\"status\" is not a string");
    BAD_ACCOUNT("{\"status\":\"valid\",\"contact\":\"mailto:a@example.org\"}",
                "\"contact\" is not an array");
    BAD_ACCOUNT("{\"status\":\"valid\",\"contact\":[\"mailto:a@example.org\",7]}",
                "\"contact\"[1] is not a string");
    BAD_ACCOUNT("{\"status\":\"valid\",\"orders\":{}}", "\"orders\" is not a string");
#undef BAD_ACCOUNT
}

static void test_account_contact_bound(void **state)
{
    size_t n = ACME_MAX_LIST + 1, len = 0;
    char *doc = test_malloc(64 + n * 4);
    struct acme_account a;
    struct errbuf err = {""};

    (void)state;
    len += (size_t)sprintf(doc, "{\"status\":\"valid\",\"contact\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(doc + len, "%s\"\"", i ? "," : "");
    len += (size_t)sprintf(doc + len, "]}");
    assert_int_equal(acme_parse_account(doc, len, &a, &err), -1);
    assert_msg_has(err.msg, "\"contact\"", "more than 1000", (const char *)NULL);
    acme_account_free(&a);
    test_free(doc);
}

/* ---- order --------------------------------------------------------------------------------- */

/* Pebble's answer to newOrder for a wildcard, a name and two IP addresses. */
static const char order_pebble[] =
    "{\n"
    "   \"status\": \"pending\",\n"
    "   \"expires\": \"2026-11-28T05:55:39Z\",\n"
    "   \"identifiers\": [\n"
    "      { \"type\": \"dns\", \"value\": \"a.example.com\" },\n"
    "      { \"type\": \"ip\", \"value\": \"2001:db8::7\" },\n"
    "      { \"type\": \"ip\", \"value\": \"192.0.2.7\" },\n"
    "      { \"type\": \"dns\", \"value\": \"*.a.example.com\" }\n"
    "   ],\n"
    "   \"finalize\": \"https://127.0.0.1:14000/finalize-order/-16pvKWEyuvSAMiFHHhuwKw\",\n"
    "   \"authorizations\": [\n"
    "      \"https://127.0.0.1:14000/authZ/nKe41-CGMim2yE85kCJ\",\n"
    "      \"https://127.0.0.1:14000/authZ/q0n3V4QYQ5v8i3Q5WrL\",\n"
    "      \"https://127.0.0.1:14000/authZ/2iZw4nB6lWOM9zjv1Cn\",\n"
    "      \"https://127.0.0.1:14000/authZ/8KJ0l1mnm3TiQ5gk4Xv\"\n"
    "   ]\n"
    "}";

static void test_order_pebble(void **state)
{
    struct acme_order o;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_order(order_pebble, LEN(order_pebble), &o, &err), 0);
    assert_string_equal(o.status, "pending");
    assert_int_equal(o.expires, 1795845339);
    assert_int_equal(o.identifier_count, 4);
    assert_string_equal(o.identifiers[0].type, "dns");
    assert_string_equal(o.identifiers[0].value, "a.example.com");
    assert_string_equal(o.identifiers[1].type, "ip");
    assert_string_equal(o.identifiers[1].value, "2001:db8::7");
    assert_string_equal(o.identifiers[2].type, "ip");
    assert_string_equal(o.identifiers[2].value, "192.0.2.7");
    assert_string_equal(o.identifiers[3].value, "*.a.example.com");
    assert_int_equal(o.authorization_count, 4);
    assert_string_equal(o.authorizations[3], "https://127.0.0.1:14000/authZ/8KJ0l1mnm3TiQ5gk4Xv");
    assert_string_equal(o.finalize,
                        "https://127.0.0.1:14000/finalize-order/-16pvKWEyuvSAMiFHHhuwKw");
    assert_null(o.certificate);
    assert_null(o.profile);
    assert_null(o.replaces);
    assert_null(o.error);
    acme_order_free(&o);
}

static void test_order_valid_with_profile(void **state)
{
    static const char doc[] =
        "{\"status\":\"valid\",\"expires\":\"2025-03-09T17:00:00+01:00\","
        "\"identifiers\":[{\"type\":\"dns\",\"value\":\"example.com\"}],"
        "\"profile\":\"shortlived\",\"replaces\":\"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE\","
        "\"authorizations\":[],\"finalize\":\"https://ca.example/finalize/1\","
        "\"certificate\":\"https://ca.example/cert/1\",\"error\":null}";
    struct acme_order o;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_order(doc, LEN(doc), &o, &err), 0);
    assert_string_equal(o.status, "valid");
    assert_int_equal(o.expires, 1741536000); /* 2025-03-09T16:00:00Z */
    assert_string_equal(o.certificate, "https://ca.example/cert/1");
    assert_string_equal(o.profile, "shortlived");
    assert_string_equal(o.replaces, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert_int_equal(o.authorization_count, 0);
    assert_null(o.error);
    acme_order_free(&o);
}

static void test_order_error(void **state)
{
    static const char doc[] =
        "{\n"
        "  \"status\": \"invalid\",\n"
        "  \"expires\": \"2016-01-20T14:09:07.99Z\",\n"
        "  \"identifiers\": [ { \"type\": \"dns\", \"value\": \"example.org\" } ],\n"
        "  \"authorizations\": [ \"https://example.com/acme/authz/PAniVnsZcis\" ],\n"
        "  \"finalize\": \"https://example.com/acme/order/TOlocE8rfgo/finalize\",\n"
        "  \"error\": {\n"
        "    \"type\": \"urn:ietf:params:acme:error:unauthorized\",\n"
        "    \"detail\": \"Error finalizing order\",\n"
        "    \"status\": 403,\n"
        "    \"subproblems\": [ { \"type\": \"urn:ietf:params:acme:error:caa\",\n"
        "      \"detail\": \"CAA record forbids issuance\",\n"
        "      \"identifier\": { \"type\": \"dns\", \"value\": \"example.org\" } } ]\n"
        "  }\n"
        "}";
    struct acme_order o;
    struct errbuf err = {""};
    char text[256];

    (void)state;
    assert_int_equal(acme_parse_order(doc, LEN(doc), &o, &err), 0);
    assert_string_equal(o.status, "invalid");
    assert_int_equal(o.expires, 1453298947);
    assert_non_null(o.error);
    assert_int_equal(o.error->status, 403);
    assert_int_equal(o.error->subproblem_count, 1);
    acme_problem_describe(o.error, text, sizeof(text));
    assert_string_equal(text, "unauthorized: Error finalizing order "
                              "[example.org: caa: CAA record forbids issuance]");
    acme_order_free(&o);
    assert_null(o.error);
}

static void test_order_bad(void **state)
{
    struct acme_order o;
    struct errbuf err = {""};

    (void)state;
#define ORDER(extra)                                                                               \
    "{\"status\":\"pending\",\"finalize\":\"https://ca.example/f\","                               \
    "\"authorizations\":[\"https://ca.example/a\"]," extra "}"
#define BAD_ORDER(doc, ...)                                                                        \
    do {                                                                                           \
        err.msg[0] = '\0';                                                                         \
        assert_int_equal(acme_parse_order(doc, LEN(doc), &o, &err), -1);                           \
        assert_msg_has(err.msg, __VA_ARGS__, (const char *)NULL);                                  \
        acme_order_free(&o);                                                                       \
    } while (0)
    /* the template itself is good */
    assert_int_equal(acme_parse_order(ORDER("\"identifiers\":[]"),
                                      LEN(ORDER("\"identifiers\":[]")), &o, &err), 0);
    acme_order_free(&o);

    BAD_ORDER("{\"finalize\":\"f\",\"authorizations\":[],\"identifiers\":[]}", "ACME order",
              "missing \"status\"");
    BAD_ORDER("{\"status\":\"pending\",\"authorizations\":[],\"identifiers\":[]}", "ACME order",
              "missing \"finalize\"");
    BAD_ORDER("{\"status\":\"pending\",\"finalize\":\"f\",\"identifiers\":[]}", "ACME order",
              "missing \"authorizations\"");
    BAD_ORDER(ORDER("\"x\":1"), "ACME order", "\"identifiers\"");
    BAD_ORDER(ORDER("\"identifiers\":{\"type\":\"dns\",\"value\":\"a\"}"), "ACME order",
              "\"identifiers\"");
    BAD_ORDER(ORDER("\"identifiers\":[\"example.com\"]"), "ACME order",
              "identifier is not an object");
    BAD_ORDER(ORDER("\"identifiers\":[{\"type\":\"dns\"}]"), "ACME order", "missing \"value\"");
    BAD_ORDER(ORDER("\"identifiers\":[{\"type\":\"dns\",\"value\":7}]"), "ACME order",
              "\"value\" is not a string");
    BAD_ORDER(ORDER("\"identifiers\":[],\"expires\":\"tomorrow\""), "ACME order",
              "\"expires\" is not an RFC 3339 time");
    BAD_ORDER(ORDER("\"identifiers\":[],\"expires\":1735790400"), "ACME order",
              "\"expires\" is not a string");
    BAD_ORDER(ORDER("\"identifiers\":[],\"certificate\":[]"), "ACME order",
              "\"certificate\" is not a string");
    BAD_ORDER(ORDER("\"identifiers\":[],\"error\":\"rejected\""),
              "\"error\" is not a problem document");
    BAD_ORDER(ORDER("\"identifiers\":[],\"error\":{\"subproblems\":7}"), "\"subproblems\"");
    BAD_ORDER("{\"status\":\"pending\",\"finalize\":\"f\",\"authorizations\":[\"a\",null],"
              "\"identifiers\":[]}",
              "ACME order", "\"authorizations\"[1] is not a string");
#undef BAD_ORDER
#undef ORDER
}

/* ---- authorization and challenge ----------------------------------------------------------- */

/* Pebble's authorization for *.example.org: the identifier is the base domain, wildcard true,
 * and only dns-01 is offered. */
static const char authz_wildcard[] =
    "{\n"
    "   \"status\": \"pending\",\n"
    "   \"identifier\": { \"type\": \"dns\", \"value\": \"example.org\" },\n"
    "   \"challenges\": [\n"
    "      {\n"
    "         \"type\": \"dns-01\",\n"
    "         \"url\": \"https://127.0.0.1:14000/chalZ/TiaapWig8vn1hoRAkcX-3PaCgOtZ9oDFe6G4GoAOA-Y\",\n"
    "         \"token\": \"99hXk2gpE7fi4aFTbJdTiBnV7Q7a9O__dTsvqVyZQks\",\n"
    "         \"status\": \"pending\"\n"
    "      }\n"
    "   ],\n"
    "   \"expires\": \"2026-11-27T06:55:39Z\",\n"
    "   \"wildcard\": true\n"
    "}";

static const char authz_three[] =
    "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"www.example.org\"},"
    "\"challenges\":["
    "{\"type\":\"http-01\",\"url\":\"https://ca.example/chalZ/1\",\"token\":\"vyKDK6tU\","
    "\"status\":\"pending\"},"
    "{\"type\":\"tls-alpn-01\",\"url\":\"https://ca.example/chalZ/2\",\"token\":\"M2Wl8VJk\","
    "\"status\":\"pending\"},"
    "{\"type\":\"dns-01\",\"url\":\"https://ca.example/chalZ/3\",\"token\":\"gGfJS9Jz\","
    "\"status\":\"invalid\",\"error\":{\"type\":\"urn:ietf:params:acme:error:dns\","
    "\"detail\":\"NXDOMAIN looking up TXT for _acme-challenge.www.example.org\",\"status\":400}}"
    "],\"expires\":\"2026-11-27T06:55:39Z\"}";

static void test_authorization_wildcard(void **state)
{
    struct acme_authorization a;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_authorization(authz_wildcard, LEN(authz_wildcard), &a, &err), 0);
    assert_string_equal(a.identifier.type, "dns");
    assert_string_equal(a.identifier.value, "example.org");
    assert_string_equal(a.status, "pending");
    assert_int_equal(a.wildcard, 1);
    assert_int_equal(a.expires, 1795762539);
    assert_int_equal(a.challenge_count, 1);
    assert_string_equal(a.challenges[0].type, "dns-01");
    assert_string_equal(a.challenges[0].token, "99hXk2gpE7fi4aFTbJdTiBnV7Q7a9O__dTsvqVyZQks");
    assert_string_equal(a.challenges[0].status, "pending");
    assert_null(a.challenges[0].error);
    acme_authorization_free(&a);
    assert_null(a.challenges);
}

static void test_authorization_challenges(void **state)
{
    struct acme_authorization a;
    struct errbuf err = {""};
    char text[256];

    (void)state;
    assert_int_equal(acme_parse_authorization(authz_three, LEN(authz_three), &a, &err), 0);
    assert_int_equal(a.wildcard, 0);
    assert_int_equal(a.challenge_count, 3);
    assert_string_equal(a.challenges[0].type, "http-01");
    assert_string_equal(a.challenges[1].type, "tls-alpn-01");
    assert_string_equal(a.challenges[1].url, "https://ca.example/chalZ/2");
    assert_string_equal(a.challenges[2].status, "invalid");
    assert_non_null(a.challenges[2].error);
    acme_problem_describe(a.challenges[2].error, text, sizeof(text));
    assert_string_equal(text, "dns: NXDOMAIN looking up TXT for _acme-challenge.www.example.org");
    acme_authorization_free(&a);
}

static void test_authorization_bad(void **state)
{
    struct acme_authorization a;
    struct errbuf err = {""};

    (void)state;
#define AUTHZ(extra)                                                                               \
    "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"}," extra "}"
#define BAD_AUTHZ(doc, ...)                                                                        \
    do {                                                                                           \
        err.msg[0] = '\0';                                                                         \
        assert_int_equal(acme_parse_authorization(doc, LEN(doc), &a, &err), -1);                   \
        assert_msg_has(err.msg, __VA_ARGS__, (const char *)NULL);                                  \
        acme_authorization_free(&a);                                                               \
    } while (0)
    BAD_AUTHZ("{\"status\":\"pending\",\"challenges\":[]}", "ACME authorization",
              "identifier is not an object");
    BAD_AUTHZ("{\"identifier\":{\"type\":\"dns\",\"value\":\"a\"},\"challenges\":[]}",
              "ACME authorization", "missing \"status\"");
    BAD_AUTHZ("{\"status\":\"pending\",\"identifier\":{\"value\":\"a\"},\"challenges\":[]}",
              "ACME authorization", "missing \"type\"");
    BAD_AUTHZ(AUTHZ("\"x\":1"), "ACME authorization", "\"challenges\"");
    BAD_AUTHZ(AUTHZ("\"challenges\":{}"), "ACME authorization", "\"challenges\"");
    BAD_AUTHZ(AUTHZ("\"challenges\":[],\"expires\":\"2026-11-27\""), "ACME authorization",
              "\"expires\" is not an RFC 3339 time");
    BAD_AUTHZ(AUTHZ("\"challenges\":[7]"), "ACME challenge", "not an object");
    BAD_AUTHZ(AUTHZ("\"challenges\":[{\"type\":\"http-01\",\"status\":\"pending\"}]"),
              "ACME challenge", "missing \"url\"");
    BAD_AUTHZ(AUTHZ("\"challenges\":[{\"type\":\"http-01\",\"url\":\"u\",\"status\":\"pending\","
                    "\"token\":42}]"),
              "ACME challenge", "\"token\" is not a string");
    BAD_AUTHZ(AUTHZ("\"challenges\":[{\"type\":\"http-01\",\"url\":\"u\",\"status\":\"invalid\","
                    "\"error\":[]}]"),
              "\"error\" is not a problem document");
#undef BAD_AUTHZ
#undef AUTHZ
}

static void test_challenge(void **state)
{
    static const char doc[] =
        "{\n"
        "   \"type\": \"dns-01\",\n"
        "   \"url\": \"https://127.0.0.1:14000/chalZ/pwBicCz3sB78bALusI_63ePm4qhcaqQgbJVIvVEmXXk\",\n"
        "   \"token\": \"gGfJS9JzzuwcMl5pPd3gknvS2kP7dH3DuKTmlkjkdkU\",\n"
        "   \"status\": \"valid\",\n"
        "   \"validated\": \"2026-11-27T05:55:39Z\"\n"
        "}";
    struct acme_challenge c;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_challenge(doc, LEN(doc), &c, &err), 0);
    assert_string_equal(c.type, "dns-01");
    assert_string_equal(c.status, "valid");
    assert_string_equal(c.token, "gGfJS9JzzuwcMl5pPd3gknvS2kP7dH3DuKTmlkjkdkU");
    assert_null(c.error);
    acme_challenge_free(&c);

    err.msg[0] = '\0';
    assert_int_equal(acme_parse_challenge("{\"type\":\"dns-01\",\"url\":\"u\"}",
                                          LEN("{\"type\":\"dns-01\",\"url\":\"u\"}"), &c, &err),
                     -1);
    assert_msg_has(err.msg, "ACME challenge", "missing \"status\"", (const char *)NULL);
    acme_challenge_free(&c);

    err.msg[0] = '\0';
    assert_int_equal(acme_parse_challenge("[]", 2, &c, &err), -1);
    assert_msg_has(err.msg, "ACME challenge", "not a JSON object", (const char *)NULL);
    acme_challenge_free(&c);
}

/* ---- renewal information (RFC 9773) -------------------------------------------------------- */

static void test_renewal_info(void **state)
{
    static const char doc[] = "{\n"
                              "  \"suggestedWindow\": {\n"
                              "    \"start\": \"2025-01-02T04:00:00Z\",\n"
                              "    \"end\": \"2025-01-03T04:00:00Z\"\n"
                              "  },\n"
                              "  \"explanationURL\": \"https://acme.example.com/docs/ari\"\n"
                              "}";
    static const char offsets[] =
        "{\"suggestedWindow\":{\"start\":\"2025-03-01T00:00:00.123456+05:30\","
        "\"end\":\"2025-03-02T00:00:00-08:00\"}}";
    struct acme_renewal_info r;
    struct errbuf err = {""};

    (void)state;
    assert_int_equal(acme_parse_renewal_info(doc, LEN(doc), &r, &err), 0);
    assert_int_equal(r.window_start, 1735790400);
    assert_int_equal(r.window_end, 1735790400 + 86400);
    assert_string_equal(r.explanation_url, "https://acme.example.com/docs/ari");
    acme_renewal_info_free(&r);
    assert_null(r.explanation_url);

    assert_int_equal(acme_parse_renewal_info(offsets, LEN(offsets), &r, &err), 0);
    assert_int_equal(r.window_start, 1740767400);
    assert_int_equal(r.window_end, 1740902400);
    assert_null(r.explanation_url);
    acme_renewal_info_free(&r);
}

static void test_renewal_info_bad(void **state)
{
    struct acme_renewal_info r;
    struct errbuf err = {""};

    (void)state;
#define BAD_ARI(doc, ...)                                                                          \
    do {                                                                                           \
        err.msg[0] = '\0';                                                                         \
        assert_int_equal(acme_parse_renewal_info(doc, LEN(doc), &r, &err), -1);                    \
        assert_msg_has(err.msg, "ACME renewal information", __VA_ARGS__, (const char *)NULL);      \
        acme_renewal_info_free(&r);                                                                \
    } while (0)
    BAD_ARI("{}", "missing \"suggestedWindow\"");
    BAD_ARI("{\"suggestedWindow\":[]}", "\"suggestedWindow\"");
    BAD_ARI("{\"suggestedWindow\":{\"end\":\"2025-01-03T04:00:00Z\"}}", "missing \"start\"");
    BAD_ARI("{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\"}}", "missing \"end\"");
    BAD_ARI("{\"suggestedWindow\":{\"start\":\"2025-01-02\",\"end\":\"2025-01-03T04:00:00Z\"}}",
            "\"start\" is not an RFC 3339 time");
    BAD_ARI("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":1735876800}}",
            "\"end\" is not a string");
    BAD_ARI("{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\","
            "\"end\":\"2025-01-02T04:00:00Z\"}}",
            "the window ends before it starts");
    /* the same instant, written in two zones: an empty window */
    BAD_ARI("{\"suggestedWindow\":{\"start\":\"2025-01-02T05:00:00+01:00\","
            "\"end\":\"2025-01-02T04:00:00Z\"}}",
            "the window ends before it starts");
    BAD_ARI("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
            "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":false}",
            "\"explanationURL\" is not a string");
#undef BAD_ARI
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_utc),
        cmocka_unit_test(test_time_fractions),
        cmocka_unit_test(test_time_offsets),
        cmocka_unit_test(test_time_rejected),
        cmocka_unit_test(test_time_bad_offsets),
        cmocka_unit_test(test_time_not_rfc3339),
        cmocka_unit_test(test_problem_subproblems),
        cmocka_unit_test(test_problem_pebble),
        cmocka_unit_test(test_problem_describe_edges),
        cmocka_unit_test(test_problem_bad),
        cmocka_unit_test(test_directory_le),
        cmocka_unit_test(test_directory_pebble),
        cmocka_unit_test(test_directory_eab_and_minimal),
        cmocka_unit_test(test_directory_bad),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_account_bad),
        cmocka_unit_test(test_account_contact_bound),
        cmocka_unit_test(test_order_pebble),
        cmocka_unit_test(test_order_valid_with_profile),
        cmocka_unit_test(test_order_error),
        cmocka_unit_test(test_order_bad),
        cmocka_unit_test(test_authorization_wildcard),
        cmocka_unit_test(test_authorization_challenges),
        cmocka_unit_test(test_authorization_bad),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_renewal_info),
        cmocka_unit_test(test_renewal_info_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
