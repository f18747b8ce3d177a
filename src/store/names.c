#include "store/names.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

/* Input longer than this cannot be a valid name even in Unicode form; refuse before any work. */
#define RAW_NAME_MAX (STORE_NAME_BUF - 1)

void store_name_escape(const char *raw, size_t len, char *out, size_t out_size)
{
    size_t o = 0;

    if (out_size == 0)
        return;
    for (size_t i = 0; i < len && o + 5 < out_size; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

static int reject(struct errbuf *err, const char *raw, size_t len, const char *why)
{
    char shown[160];

    store_name_escape(raw, len < 120 ? len : 120, shown, sizeof(shown));
    return errbuf_set(err, "name \"%s%s\": %s", shown, len > 120 ? "..." : "", why);
}

int store_name_is_ip_literal(const char *raw, size_t len)
{
    char buf[64];
    unsigned char addr[16];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, raw, len);
    buf[len] = '\0';
    if (buf[len - 1] == ']' && buf[0] == '[') { /* "[::1]" as some tools print it */
        memmove(buf, buf + 1, len - 2);
        buf[len - 2] = '\0';
    }
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* A rule broken by the name as UTS #46 mapped it (MAPPED non-NULL) or as given: say which. */
static int reject_rule(struct errbuf *err, const char *raw, size_t len, const char *mapped,
                       const char *why)
{
    char text[ERRBUF_SIZE / 2], shown[160];

    if (!mapped)
        return reject(err, raw, len, why);
    store_name_escape(mapped, strlen(mapped), shown, sizeof(shown));
    snprintf(text, sizeof(text), "%s (after IDNA mapping: \"%s\")", why, shown);
    return reject(err, raw, len, text);
}

/* The octet-level rules: the characters that would change the meaning of a path. Checked on the
 * input before anything interprets it, and again on the final name (MAPPED, see reject_rule). */
static int check_octets(const char *s, size_t n, const char *raw, size_t len, const char *mapped,
                        struct errbuf *err)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0')
            return reject_rule(err, raw, len, mapped, "contains a NUL byte");
        /* C0, DEL, and C1 (U+0080..U+009F, UTF-8 C2 80..C2 9F) */
        if (c < 0x20 || c == 0x7f ||
            (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
             (unsigned char)s[i + 1] <= 0x9f))
            return reject_rule(err, raw, len, mapped, "contains a control character");
        if (c == '/' || c == '\\')
            return reject_rule(err, raw, len, mapped, "contains a path separator ('/' or '\\')");
    }
    return 0;
}

static int label_count(const char *name)
{
    int n = 1;
    for (; *name; name++)
        n += *name == '.';
    return n;
}

/* The label rules, for NAME without its wildcard prefix: checked on the input (clear messages
 * before any work) and again on the final Unicode name that becomes the file name — mapping can
 * turn a full-stop variant into '.', so only the final name is proof. */
static int check_labels(const char *name, int wildcard, const char *raw, size_t len,
                        const char *mapped, struct errbuf *err)
{
    if (strchr(name, '*'))
        return reject_rule(err, raw, len, mapped, "'*' is allowed only as the whole first label");
    if (*name == '\0' || *name == '.' || strstr(name, "..") || name[strlen(name) - 1] == '.')
        return reject_rule(err, raw, len, mapped, "empty label");
    if (name[0] == '_' && (name[1] == '.' || name[1] == '\0'))
        return reject_rule(err, raw, len, mapped,
                           "a first label of '_' is reserved for wildcard file names");
    if (wildcard && label_count(name) < 2)
        return reject_rule(err, raw, len, mapped,
                           "a wildcard must cover a name of at least two labels");
    return 0;
}

/* Labels of an A-label name: non-empty, at most 63 octets, letters, digits, '-' and '_' only. */
static int check_ace_labels(const char *ace, const char *raw, size_t len, struct errbuf *err)
{
    const char *label = ace;

    for (;;) {
        const char *dot = strchr(label, '.');
        size_t n = dot ? (size_t)(dot - label) : strlen(label);
        char why[128];

        if (n == 0)
            return reject(err, raw, len, "empty label");
        if (n > DNS_LABEL_MAX) {
            snprintf(why, sizeof(why), "label longer than %d octets", DNS_LABEL_MAX);
            return reject(err, raw, len, why);
        }
        for (size_t i = 0; i < n; i++) {
            char c = label[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
                snprintf(why, sizeof(why), "character '%c' not allowed in a host name", c);
                return reject(err, raw, len, why);
            }
        }
        if (!dot)
            return 0;
        label = dot + 1;
    }
}

/* An A-label is taken only if decoding and re-encoding it gives it back: a label that encodes
 * what UTS #46 would map or IDNA2008 disallows (a fullwidth solidus, say) is not the name it
 * seems, and libidn2 passes A-labels through without that check. */
static int check_a_labels_round_trip(const char *ace, const char *raw, size_t len,
                                     struct errbuf *err)
{
    const char *label = ace;

    for (;;) {
        const char *dot = strchr(label, '.');
        size_t n = dot ? (size_t)(dot - label) : strlen(label);
        char alabel[DNS_LABEL_MAX + 1], why[160];
        char *ulabel = NULL, *again = NULL;
        int ok;

        if (n >= 4 && n <= DNS_LABEL_MAX && strncmp(label, "xn--", 4) == 0) {
            memcpy(alabel, label, n);
            alabel[n] = '\0';
            ok = idn2_to_unicode_8z8z(alabel, &ulabel, 0) == IDN2_OK &&
                 idn2_lookup_u8((const uint8_t *)ulabel, (uint8_t **)&again,
                                IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK &&
                 strcmp(again, alabel) == 0;
            free(ulabel);
            free(again);
            if (!ok) {
                snprintf(why, sizeof(why),
                         "A-label \"%s\" does not round-trip (decoding and re-encoding it gives "
                         "another name)",
                         alabel);
                return reject(err, raw, len, why);
            }
        }
        if (!dot)
            return 0;
        label = dot + 1;
    }
}

static int ldh_or_underscore(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int store_name_is_plain_ascii(const char *name, size_t len)
{
    size_t start = 0;
    int letters = 0;

    if (len == 0)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        size_t n = i - start;
        const char *label = name + start;

        if (i < len && name[i] != '.') {
            if (!ldh_or_underscore(name[i]))
                return 0;
            letters |= name[i] < '0' || name[i] > '9';
            continue;
        }
        /* RFC 5891 §4.2.3.1 for an ASCII label; "--" in the third and fourth place also catches
         * the "xn--" of A-labels, which need libidn2's checks. */
        if (n == 0 || n > DNS_LABEL_MAX || label[0] == '-' || label[n - 1] == '-' ||
            (n >= 4 && label[2] == '-' && label[3] == '-'))
            return 0;
        start = i + 1;
    }
    return letters;
}

/* The A-label (*ACE) and Unicode (*UNICODE) forms of REST (lower case, no "*."), both malloc'd.
 * UTS #46 non-transitional mapping (folds case of non-ASCII too), NFC, then IDNA2008 rules: it
 * accepts U-labels and A-labels alike. A plain ASCII name is both forms itself and skips libidn2,
 * whose two calls were most of the time of loading a config of 100,000 names (test_names compares
 * the two ways on such names). */
static int idna_forms(const char *rest, int wildcard, char **ace, char **unicode, const char *raw,
                      size_t raw_len, struct errbuf *err)
{
    char why[160];
    int rc;

    if (store_name_is_plain_ascii(rest, strlen(rest))) {
        *ace = strdup(rest);
        *unicode = strdup(rest);
        if (!*ace || !*unicode)
            return errbuf_set(err, "out of memory");
    } else {
        rc = idn2_lookup_u8((const uint8_t *)rest, (uint8_t **)ace,
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
        if (rc == IDN2_TOO_BIG_LABEL) {
            snprintf(why, sizeof(why), "label longer than %d octets", DNS_LABEL_MAX);
            return reject(err, raw, raw_len, why);
        }
        if (rc == IDN2_TOO_BIG_DOMAIN) {
            snprintf(why, sizeof(why), "longer than %d octets", DNS_NAME_MAX);
            return reject(err, raw, raw_len, why);
        }
        if (rc != IDN2_OK) {
            snprintf(why, sizeof(why), "refused by IDNA2008: %s", idn2_strerror(rc));
            return reject(err, raw, raw_len, why);
        }
    }
    if (strlen(*ace) + (wildcard ? 2 : 0) > DNS_NAME_MAX) {
        snprintf(why, sizeof(why), "longer than %d octets", DNS_NAME_MAX);
        return reject(err, raw, raw_len, why);
    }
    if (*unicode)
        return 0;
    rc = idn2_to_unicode_8z8z(*ace, unicode, 0);
    if (rc != IDN2_OK) {
        snprintf(why, sizeof(why), "refused by IDNA2008: %s", idn2_strerror(rc));
        return reject(err, raw, raw_len, why);
    }
    return 0;
}

int store_name_normalise(const char *raw, size_t len, struct store_name *out, struct errbuf *err)
{
    char lowered[RAW_NAME_MAX + 1];
    char *rest, *ace = NULL, *unicode = NULL;
    const size_t raw_len = len; /* messages quote the input as given */
    int ret = -1;
    char why[160];

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return reject(err, raw, len, "empty name");
    if (len > RAW_NAME_MAX) {
        snprintf(why, sizeof(why), "longer than %d octets", DNS_NAME_MAX);
        return reject(err, raw, len, why);
    }
    if (check_octets(raw, len, raw, len, NULL, err) < 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        lowered[i] = (raw[i] >= 'A' && raw[i] <= 'Z') ? (char)(raw[i] - 'A' + 'a') : raw[i];
    lowered[len] = '\0';
    if (lowered[len - 1] == '.')
        lowered[--len] = '\0';
    if (len == 0)
        return reject(err, raw, raw_len, "empty name");

    rest = lowered;
    if (strncmp(rest, "*.", 2) == 0) {
        out->wildcard = 1;
        rest += 2;
    }
    if (check_labels(rest, out->wildcard, raw, raw_len, NULL, err) < 0)
        return -1;

    if (idna_forms(rest, out->wildcard, &ace, &unicode, raw, raw_len, err) < 0)
        goto out;
    /* Every rule again, on what the name became: the structure of the final Unicode name first
     * (its messages are the clearest), then the A-label form's characters and lengths. */
    if (check_octets(unicode, strlen(unicode), raw, raw_len, unicode, err) < 0 ||
        check_labels(unicode, out->wildcard, raw, raw_len, unicode, err) < 0 ||
        check_ace_labels(ace, raw, raw_len, err) < 0 ||
        check_a_labels_round_trip(ace, raw, raw_len, err) < 0)
        goto out;
    snprintf(out->ace, sizeof(out->ace), "%s%s", out->wildcard ? "*." : "", ace);
    snprintf(out->unicode, sizeof(out->unicode), "%s%s", out->wildcard ? "*." : "", unicode);
    snprintf(out->file, sizeof(out->file), "%s%s%s", out->wildcard ? "_." : "", unicode,
             STORE_FILE_SUFFIX);
    if (strlen(out->file) > STORE_FILE_NAME_MAX) {
        snprintf(why, sizeof(why), "file name would exceed %d octets", STORE_FILE_NAME_MAX);
        reject(err, raw, raw_len, why);
        goto out;
    }
    ret = 0;
out:
    free(ace);
    free(unicode);
    if (ret < 0)
        memset(out, 0, sizeof(*out));
    return ret;
}

int store_lookup_plan(const char *host, size_t len, struct store_lookup_plan *out,
                      struct errbuf *err)
{
    const char *parent;

    memset(out, 0, sizeof(*out));
    if (store_name_is_ip_literal(host, len))
        return reject(err, host, len, "is an IP address; the store holds host names only");
    if (memchr(host, '*', len))
        return reject(err, host, len, "a host to look up cannot contain '*'");
    if (store_name_normalise(host, len, &out->host, err) < 0)
        return -1;
    snprintf(out->exact_file, sizeof(out->exact_file), "%s", out->host.file);
    /* One level up only: a.b.example.com -> _.b.example.com; and never onto a single label. */
    parent = strchr(out->host.unicode, '.');
    if (parent && strchr(parent + 1, '.'))
        snprintf(out->wildcard_file, sizeof(out->wildcard_file), "_%s%s", parent,
                 STORE_FILE_SUFFIX);
    return 0;
}
