/* config_values.c — what a value of each kind (enum value_kind) must be, and storing it into the
 * section's struct: every value is checked here, as it is read, and a bad one reported at its
 * line with the key and the value.
 *
 * Relative paths in values are resolved against the directory of the config file (made
 * absolute), so `password-file = secrets/iis.pass` in /etc/ccs/ccs.conf means
 * /etc/ccs/secrets/iis.pass whatever the working directory of the process reading it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "manage/config_parser.h"
#include "store/check.h"
#include "store/names.h"
#include "store/smb_location.h"
#include "store/store.h"

static const char *const bool_true[] = {"yes", "true", "1", "on"};
static const char *const bool_false[] = {"no", "false", "0", "off"};
/* ALPN protocol names are 1 to 255 octets (RFC 7301 §3.1). */
#define ALPN_NAME_MAX 255
/* sun_path of struct sockaddr_un, with its NUL. */
#define UNIX_PATH_ROOM 108

static int bad_value(struct parser *p, const struct key_def *key, const char *value,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int bad_value(struct parser *p, const struct key_def *key, const char *value,
                     const char *fmt, ...)
{
    char why[256], buf[SHOWN_BUF];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    conf_error(p, p->line, "%s \"%s\": %s", key->name, conf_shown(value, buf, sizeof(buf)), why);
    return -1;
}

/* Take OWNED (NULL: allocation failed, already flagged) into *FIELD. */
static int set_string(char **field, char *owned)
{
    if (!owned)
        return -1;
    free(*field);
    *field = owned;
    return 0;
}

/* Control characters other than tab (a separator in lists). */
static int has_control(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 1;
    return 0;
}

static int has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s))
            return 1;
    return 0;
}

/* "a, b, c" into NAMES for a message. */
static void join_names(const char *const *names, size_t count, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", names[i]);
}

static int parse_choice(struct parser *p, const struct key_def *key, const char *value,
                        const char *const *names, size_t count, int *out)
{
    struct suggestion s = {NULL, 0};
    char list[256];

    for (size_t i = 0; i < count; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    for (size_t i = 0; i < count; i++) /* only for the message */
        suggest_consider(&s, value, names[i]);
    join_names(names, count, list, sizeof(list));
    if (s.best)
        return bad_value(p, key, value, "not one of %s (did you mean \"%s\"?)", list, s.best);
    return bad_value(p, key, value, "not one of %s", list);
}

static int parse_bool(struct parser *p, const struct key_def *key, const char *value, int *out)
{
    for (size_t i = 0; i < COUNT(bool_true); i++) {
        if (strcasecmp(value, bool_true[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(value, bool_false[i]) == 0)
            return *out = 0, 0;
    }
    return bad_value(p, key, value, "not a boolean (yes/no, true/false, on/off, 1/0)");
}

static int parse_int(struct parser *p, const struct key_def *key, const char *value, long min,
                     long max, int *out)
{
    char *end;
    long n;

    if (!isdigit((unsigned char)value[0]))
        return bad_value(p, key, value, "not a whole number");
    errno = 0;
    n = strtol(value, &end, 10);
    if (*end)
        return bad_value(p, key, value, "not a whole number");
    if (errno == ERANGE || n < min || n > max)
        return bad_value(p, key, value, "out of range (%ld to %ld)", min, max);
    *out = (int)n;
    return 0;
}

static int parse_mode(struct parser *p, const struct key_def *key, const char *value, unsigned *out)
{
    size_t len = strlen(value);
    unsigned mode = 0;

    if (len < 3 || len > 4 || strspn(value, "01234567") != len)
        return bad_value(p, key, value, "not an octal mode such as 0640");
    for (size_t i = 0; i < len; i++)
        mode = mode * 8 + (unsigned)(value[i] - '0');
    if (mode == 0) /* also keeps 0 free to mean "not set" */
        return bad_value(p, key, value, "no one could read the file");
    if (mode > FILE_MODE_MAX)
        return bad_value(p, key, value, "set-id and sticky bits are not allowed (at most 0777)");
    *out = mode;
    return 0;
}

/* renewal-value: a positive decimal number; its range depends on the mode (checked later). */
static int parse_number(struct parser *p, const struct key_def *key, const char *value, double *out)
{
    size_t digits = strspn(value, "0123456789");
    const char *rest = value + digits;

    if (*rest == '.')
        rest += 1 + strspn(rest + 1, "0123456789");
    if (*rest || (digits == 0 && rest - value <= 1))
        return bad_value(p, key, value, "not a number");
    *out = strtod(value, NULL);
    return 0;
}

static int parse_account(struct parser *p, const struct key_def *key, const char *value)
{
    size_t len = strlen(value);
    if (len > ACCOUNT_NAME_MAX || value[0] == '-' ||
        strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
        return bad_value(p, key, value,
                         "not a user or group name (letters, digits, '.', '_', '-'; at most %d) "
                         "or a numeric id",
                         ACCOUNT_NAME_MAX);
    return 0;
}

/* VALUE made absolute against the config file's directory. */
static char *resolve_path(struct parser *p, const char *value)
{
    char *path;
    size_t size;

    if (value[0] == '/')
        return conf_strdup(p, value);
    size = strlen(p->dir) + 1 + strlen(value) + 1;
    path = malloc(size);
    if (!path) {
        p->out_of_memory = 1;
        return NULL;
    }
    snprintf(path, size, "%s/%s", p->dir, value);
    return path;
}

/* Files named by *-file keys (and the CA bundle, hooks and programs) must be there now: a check
 * that passes with a missing secret would fail at 3 a.m. during a renewal. Their content is
 * never read here. */
static int check_file(struct parser *p, const struct key_def *key, const char *path, int executable)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return bad_value(p, key, path, "does not exist");
        return bad_value(p, key, path, "%s", strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return bad_value(p, key, path, "not a regular file");
    if (executable && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
        return bad_value(p, key, path, "not executable");
    return 0;
}

static int set_path(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    char *path;

    /* A URL (smb://, file://) is not a path: resolved, it would become CONFIG_DIR/smb://... */
    if (strstr(value, "://") || strncmp(value, "\\\\", 2) == 0)
        return bad_value(p, key, value, "a local path is expected, not a URL or UNC name");
    path = resolve_path(p, value);

    if (set_string(field, path) < 0)
        return -1;
    if (key->kind == V_FILE || key->kind == V_PROGRAM)
        return check_file(p, key, path, key->kind == V_PROGRAM);
    return 0;
}

/* A store's location: an SMB share is checked by the store's own parser and kept as written (it
 * is no path to resolve); anything else is a local path. */
static int set_store_location(struct parser *p, const struct key_def *key, char **field,
                              const char *value)
{
    struct smb_location loc;
    struct errbuf err;

    if (store_location_kind(value) != STORE_LOCATION_SMB)
        return set_path(p, key, field, value);
    if (smb_location_parse(value, &loc, &err) < 0) {
        char display[sizeof(err.msg)];
        smb_location_display(value, display, sizeof(display)); /* never a password in a message */
        conf_error(p, p->line, "location \"%s\": %s", display, err.msg);
        return -1;
    }
    return set_string(field, conf_strdup(p, value));
}

static int set_url(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    static const char scheme[] = "https://";

    if (strncasecmp(value, scheme, strlen(scheme)) != 0 || !value[strlen(scheme)] ||
        has_space(value))
        return bad_value(p, key, value, "not an https:// URL (ACME runs over HTTPS only)");
    return set_string(field, conf_strdup(p, value));
}

static int set_address(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, value, addr) != 1 && inet_pton(AF_INET6, value, addr) != 1)
        return bad_value(p, key, value, "not an IPv4 or IPv6 address");
    return set_string(field, conf_strdup(p, value));
}

/* The form two domains are compared in: the A-label form, or an IP literal as written. */
static int domain_key(const char *domain, char *out, size_t size, struct store_name *name,
                      struct errbuf *err)
{
    if (store_name_is_ip_literal(domain, strlen(domain))) {
        memset(name, 0, sizeof(*name));
        snprintf(out, size, "%s", domain);
        return 0;
    }
    if (store_name_normalise(domain, strlen(domain), name, err) < 0)
        return -1;
    snprintf(out, size, "%s", name->ace);
    return 0;
}

static int add_domain(struct parser *p, const struct key_def *key, struct config_certificate *c,
                      struct meta *m, const char *domain)
{
    char want[DNS_NAME_MAX + 1];
    struct store_name name;
    struct errbuf err;

    size_t n = 0, want_len;
    const char *have;

    if (domain_key(domain, want, sizeof(want), &name, &err) < 0) {
        conf_error(p, p->line, "%s: %s", key->name, err.msg);
        return -1;
    }
    if (p->domain_keys_of != p->index + 1) { /* a new certificate */
        p->domain_keys_len = 0;
        p->domain_keys_of = p->index + 1;
    }
    for (have = p->domain_keys; have < p->domain_keys + p->domain_keys_len;
         have += strlen(have) + 1, n++) /* the Nth is c->domains[N]'s */
        if (strcmp(have, want) == 0)
            return bad_value(p, key, domain, "listed twice (first at line %d)",
                             conf_domain_line(m, n));
    want_len = strlen(want) + 1;
    if (p->domain_keys_len + want_len > p->domain_keys_cap) {
        size_t cap = 2 * (p->domain_keys_len + want_len);
        char *grown = realloc(p->domain_keys, cap);
        if (!grown) {
            p->out_of_memory = 1;
            return -1;
        }
        p->domain_keys = grown;
        p->domain_keys_cap = cap;
    }
    if (conf_grow_one(p, (void **)&c->domains, c->domain_count, sizeof(*c->domains)) < 0 ||
        conf_add_seen(p, m, SEEN_DOMAIN) < 0)
        return -1;
    c->domains[c->domain_count] = conf_strdup(p, domain);
    if (!c->domains[c->domain_count])
        return -1;
    c->domain_count++;
    memcpy(p->domain_keys + p->domain_keys_len, want, want_len);
    p->domain_keys_len += want_len;
    return 0;
}

static int add_contact(struct parser *p, const struct key_def *key, struct config *cfg,
                       const char *contact)
{
    static const char scheme[] = "mailto:";
    const char *address = contact + strlen(scheme), *at;

    if (strncasecmp(contact, scheme, strlen(scheme)) != 0)
        return bad_value(p, key, contact, "not a mailto: URL (write mailto:ADDRESS)");
    at = strchr(address, '@');
    if (!at || at == address || !at[1] || strchr(at + 1, '@'))
        return bad_value(p, key, contact, "not an e-mail address after mailto:");
    if (conf_grow_one(p, (void **)&cfg->contact, cfg->contact_count, sizeof(*cfg->contact)) < 0)
        return -1;
    cfg->contact[cfg->contact_count] = conf_strdup(p, contact);
    if (!cfg->contact[cfg->contact_count])
        return -1;
    cfg->contact_count++;
    return 0;
}

/* domains and contact: items separated by commas and/or white space. */
static int add_list(struct parser *p, const struct key_def *key, void *entity, struct meta *m,
                    const char *value)
{
    char copy[CONFIG_LINE_MAX + 1], *save = NULL; /* a value is at most a line */
    int rc = 0;

    snprintf(copy, sizeof(copy), "%s", value);
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
        if (key->kind == V_DOMAINS)
            rc |= add_domain(p, key, entity, m, item);
        else
            rc |= add_contact(p, key, entity, item);
    }
    return rc;
}

/* The names tables are in enum order, so the index is the value. */
static int set_choice(struct parser *p, const struct key_def *key, void *field, const char *value)
{
    const struct choice *c = conf_choice_of(key->kind);
    int i = 0;

    if (!c || parse_choice(p, key, value, c->names, c->count, &i) < 0)
        return -1;
    switch (key->kind) {
    case V_RENEWAL_MODE:
        *(enum renewal_mode *)field = (enum renewal_mode)i;
        return 0;
    case V_DEPLOYMENT:
        *(enum deployment_mode *)field = (enum deployment_mode)i;
        return 0;
    case V_TASK_TYPE:
        *(enum task_type *)field = (enum task_type)i;
        return 0;
    case V_PHASE:
        *(enum task_phase *)field = (enum task_phase)i;
        return 0;
    case V_TRIGGER:
        *(enum task_trigger *)field = (enum task_trigger)i;
        return 0;
    default: /* V_CHALLENGE: kept as its name */
        return set_string(field, conf_strdup(p, c->names[i]));
    }
}

static int set_key_type(struct parser *p, const struct key_def *key, enum key_type *field,
                        const char *value)
{
    const char *names[KEY_RSA_4096 + 1];
    int i;

    if (key_type_parse(value, field) == 0)
        return 0;
    for (int t = KEY_EC_P256; t <= KEY_RSA_4096; t++)
        names[t] = key_type_name((enum key_type)t);
    parse_choice(p, key, value, names, COUNT(names), &i);
    return -1;
}

static int set_pfx_format(struct parser *p, const struct key_def *key, enum pfx_format *field,
                          const char *value)
{
    const char *names[] = {pfx_format_name(PFX_FORMAT_COMPAT), pfx_format_name(PFX_FORMAT_AES256)};
    int i;

    if (pfx_format_parse(value, field) == 0)
        return 0;
    parse_choice(p, key, value, names, COUNT(names), &i);
    return -1;
}

/* ---- [serve] and [site] ---------------------------------------------------------------------- */

/* A backend host name: letters, digits, '-', '.' and '_', at most DNS_NAME_MAX. */
static int plain_host_name(const char *h, size_t len)
{
    return len > 0 && len <= DNS_NAME_MAX && h[0] != '-' && h[0] != '.' &&
           strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == len;
}

int config_split_host_port(const char *value, int names_allowed, char *host, size_t host_size,
                           int *port, char *why, size_t why_size)
{
    const char *colon, *start = value;
    unsigned char addr[sizeof(struct in6_addr)];
    size_t hlen;
    char *end;
    long n;

    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || close[1] != ':') {
            snprintf(why, why_size, "an IPv6 address is written [ADDR]:PORT");
            return -1;
        }
        start = value + 1;
        hlen = (size_t)(close - start);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (!colon) {
            snprintf(why, why_size, "expected ADDR:PORT");
            return -1;
        }
        hlen = (size_t)(colon - value);
        if (memchr(value, ':', hlen)) {
            snprintf(why, why_size, "an IPv6 address is written in brackets: [ADDR]:PORT");
            return -1;
        }
    }
    if (hlen == 0 || hlen >= host_size) {
        snprintf(why, why_size, "no address before the port");
        return -1;
    }
    memcpy(host, start, hlen);
    host[hlen] = '\0';
    if (start != value ? inet_pton(AF_INET6, host, addr) != 1
                       : inet_pton(AF_INET, host, addr) != 1 &&
                             (!names_allowed || !plain_host_name(host, hlen))) {
        snprintf(why, why_size, "%s",
                 start != value  ? "not an IPv6 address between the brackets"
                 : names_allowed ? "not an IPv4 address, an [IPv6] address or a host name"
                                 : "not an IPv4 address (an IPv6 one is written [ADDR]:PORT)");
        return -1;
    }
    errno = 0;
    n = isdigit((unsigned char)colon[1]) ? strtol(colon + 1, &end, 10) : -1;
    if (n < 1 || n > PORT_MAX || *end || errno) {
        snprintf(why, why_size, "the port is not a number from 1 to %d", PORT_MAX);
        return -1;
    }
    *port = (int)n;
    return 0;
}

static int check_host_port(struct parser *p, const struct key_def *key, const char *value,
                           int names_allowed)
{
    char host[PART_ROOM], why[128];
    int port;

    if (config_split_host_port(value, names_allowed, host, sizeof(host), &port, why, sizeof(why)) <
        0)
        return bad_value(p, key, value, "%s", why);
    return 0;
}

static int set_backend(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    if (value[0] == '/') {
        if (strlen(value) >= UNIX_PATH_ROOM)
            return bad_value(p, key, value, "a unix socket path has at most %d characters",
                             UNIX_PATH_ROOM - 1);
    } else if (check_host_port(p, key, value, 1) < 0) {
        return -1;
    }
    return set_string(field, conf_strdup(p, value));
}

/* A host name a server serves (or, with WILDCARD_OK, "*.parent"), normalised into its A-label
 * form: SNI names arrive in that form. */
static int served_host(struct parser *p, const struct key_def *key, const char *value,
                       int wildcard_ok, char *ace, size_t size)
{
    struct store_name name;
    struct errbuf err;

    if (store_name_is_ip_literal(value, strlen(value)))
        return bad_value(p, key, value,
                         "an IP address: certificates are looked up by host name (SNI)");
    if (store_name_normalise(value, strlen(value), &name, &err) < 0) {
        conf_error(p, p->line, "%s: %s", key->name, err.msg);
        return -1;
    }
    if (name.wildcard && !wildcard_ok)
        return bad_value(p, key, value, "a wildcard; name one host");
    snprintf(ace, size, "%s", name.ace);
    return 0;
}

static int add_string(struct parser *p, struct config_strings *list, const char *item)
{
    if (conf_grow_one(p, (void **)&list->items, list->count, sizeof(*list->items)) < 0 ||
        conf_grow_one(p, (void **)&list->lines, list->count, sizeof(*list->lines)) < 0)
        return -1;
    list->items[list->count] = conf_strdup(p, item);
    if (!list->items[list->count])
        return -1;
    list->lines[list->count++] = p->line;
    return 0;
}

/* Make p->list_items the index of LIST's items (rebuilt when another list is added to: a
 * section's lists are added to one at a time, line by line), so that a list of 100,000 hosts is
 * checked for duplicates without a scan per item. */
static int list_index(struct parser *p, const struct config_strings *list)
{
    if (p->list_items_of == list)
        return 0;
    strmap_free(&p->list_items);
    p->list_items_of = list;
    for (size_t i = 0; i < list->count; i++)
        if (strmap_put(&p->list_items, list->items[i], i, NULL) < 0) {
            p->list_items_of = NULL;
            p->out_of_memory = 1;
            return -1;
        }
    return 0;
}

/* One item of listen, hosts or alpn. */
static int add_serve_item(struct parser *p, const struct key_def *key, struct config_strings *list,
                          const char *item)
{
    char ace[DNS_NAME_MAX + 1];
    const char *keep = item;
    size_t first;

    if (key->kind == V_LISTEN && check_host_port(p, key, item, 0) < 0)
        return -1;
    if (key->kind == V_HOSTS) {
        if (served_host(p, key, item, 1, ace, sizeof(ace)) < 0)
            return -1;
        keep = ace;
    }
    if (key->kind == V_ALPN &&
        (strlen(item) > ALPN_NAME_MAX ||
         strspn(item, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/") != strlen(item)))
        return bad_value(p, key, item,
                         "not a protocol name such as h2 or http/1.1 (letters, digits, "
                         "'-', '.', '_', '/'; at most %d)",
                         ALPN_NAME_MAX);
    if (list_index(p, list) < 0)
        return -1;
    if (strmap_get(&p->list_items, keep, &first))
        return bad_value(p, key, item, "listed twice (first at line %d)", list->lines[first]);
    if (add_string(p, list, keep) < 0)
        return -1;
    if (strmap_put(&p->list_items, list->items[list->count - 1], list->count - 1, NULL) < 0) {
        p->out_of_memory = 1;
        return -1;
    }
    return 0;
}

static int add_serve_list(struct parser *p, const struct key_def *key, struct config_strings *list,
                          const char *value)
{
    char copy[CONFIG_LINE_MAX + 1], *save = NULL; /* a value is at most a line */
    int rc = 0;

    snprintf(copy, sizeof(copy), "%s", value);
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save))
        rc |= add_serve_item(p, key, list, item);
    return rc;
}

/* An OpenSSL cipher list must select something: OpenSSL skips words it does not know, so a list
 * of typos would otherwise leave no cipher at all, found out at the first handshake. */
static int set_ciphers(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int ok;

    if (!ctx) {
        p->out_of_memory = 1;
        return -1;
    }
    ok = key->kind == V_CIPHERS ? SSL_CTX_set_cipher_list(ctx, value)
                                : SSL_CTX_set_ciphersuites(ctx, value);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    if (ok != 1)
        return bad_value(p, key, value,
                         key->kind == V_CIPHERS
                             ? "selects no TLS 1.2 cipher OpenSSL knows (see openssl-ciphers(1))"
                             : "not a list of TLS 1.3 ciphersuites OpenSSL knows, such as "
                               "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
    return set_string(field, conf_strdup(p, value));
}

/* The values of the keys only [serve] and [site] have. */
static int set_serve_value(struct parser *p, const struct key_def *key, void *field,
                           const char *value)
{
    char ace[DNS_NAME_MAX + 1];
    int i = 0;

    switch (key->kind) {
    case V_LISTEN:
    case V_HOSTS:
    case V_ALPN:
        return add_serve_list(p, key, field, value);
    case V_BACKEND:
        return set_backend(p, key, field, value);
    case V_ADDR_PORT:
        if (check_host_port(p, key, value, 0) < 0)
            return -1;
        return set_string(field, conf_strdup(p, value));
    case V_DEFAULT_CERT:
        if (strcmp(value, SERVE_DEFAULT_CERTIFICATE_REJECT) == 0)
            return set_string(field, conf_strdup(p, value));
        if (served_host(p, key, value, 0, ace, sizeof(ace)) < 0)
            return -1;
        return set_string(field, conf_strdup(p, ace));
    case V_TLS_VERSION:
        if (parse_choice(p, key, value, conf_choice_of(key->kind)->names,
                         conf_choice_of(key->kind)->count, &i) < 0)
            return -1;
        *(int *)field = i == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
        return 0;
    case V_PROXY_PROTOCOL:
        if (parse_choice(p, key, value, conf_choice_of(key->kind)->names,
                         conf_choice_of(key->kind)->count, &i) < 0)
            return -1;
        *(enum proxy_protocol_mode *)field = (enum proxy_protocol_mode)i;
        return 0;
    case V_CIPHERS:
    case V_CIPHERSUITES:
        return set_ciphers(p, key, field, value);
    case V_COUNT:
        return parse_int(p, key, value, 1, SERVE_CONNECTIONS_MAX, field);
    case V_WORKERS:
        if (strcmp(value, "auto") == 0)
            return *(int *)field = 0, 0;
        return parse_int(p, key, value, 1, SERVE_WORKERS_MAX, field);
    default:
        return -1;
    }
}

/* Parse VALUE for KEY into ENTITY's field. Reports and returns -1 on a bad value. */
int conf_set_value(struct parser *p, const struct key_def *key, void *entity, struct meta *m,
                   const char *value)
{
    void *field = (char *)entity + key->offset;
    size_t len = strlen(value);

    if (!*value)
        return bad_value(p, key, value, "empty value");
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
        return bad_value(p, key, value, "values are written without quotes");
    if (has_control(value))
        return bad_value(p, key, value, "contains a control character");
    switch (key->kind) {
    case V_TEXT:
        return set_string(field, conf_strdup(p, value));
    case V_TOKEN:
        if (has_space(value))
            return bad_value(p, key, value, "contains white space");
        return set_string(field, conf_strdup(p, value));
    case V_STORE_LOCATION:
        return set_store_location(p, key, field, value);
    case V_PATH:
    case V_FILE:
    case V_PROGRAM:
        return set_path(p, key, field, value);
    case V_URL:
        return set_url(p, key, field, value);
    case V_ADDRESS:
        return set_address(p, key, field, value);
    case V_ACCOUNT:
        if (parse_account(p, key, value) < 0)
            return -1;
        return set_string(field, conf_strdup(p, value));
    case V_BOOL:
        return parse_bool(p, key, value, field);
    case V_PORT:
        return parse_int(p, key, value, 1, PORT_MAX, field);
    case V_SECONDS:
        return parse_int(p, key, value, 1, TIMEOUT_MAX_S, field);
    case V_MODE:
        if (parse_mode(p, key, value, field) < 0)
            return -1;
        /* A store's files: the modes `ccs store check` calls errors are refused here, as deploy
         * refuses them unless forced (a renewal runs unattended: no one to force it). */
        if (p->kind == SEC_STORE && store_mode_problem(*(unsigned *)field))
            return bad_value(p, key, value, "would make the store's files %s; use 0640 or stricter",
                             store_mode_problem(*(unsigned *)field));
        return 0;
    case V_NUMBER:
        return parse_number(p, key, value, field);
    case V_KEY_TYPE:
        return set_key_type(p, key, field, value);
    case V_PFX_FORMAT:
        return set_pfx_format(p, key, field, value);
    case V_DOMAINS:
    case V_CONTACT:
        return add_list(p, key, entity, m, value);
    case V_LISTEN:
    case V_HOSTS:
    case V_ALPN:
    case V_BACKEND:
    case V_ADDR_PORT:
    case V_DEFAULT_CERT:
    case V_TLS_VERSION:
    case V_PROXY_PROTOCOL:
    case V_CIPHERS:
    case V_CIPHERSUITES:
    case V_COUNT:
    case V_WORKERS:
        return set_serve_value(p, key, field, value);
    default:
        return set_choice(p, key, field, value);
    }
}
