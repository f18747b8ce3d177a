/* config.c — reading ccs.conf: the lines (parse_line), what each key means (the key tables and
 * set_value) and the cross-references between sections (the finish_* steps).
 *
 * The file is INI as inih and Python's configparser read it, and we read it ourselves, line by
 * line, with getline — no INI library. Debian's libinih (55) is built with its header's defaults,
 * which ccs cannot live with: the handler is not told the line (INI_HANDLER_LINENO 0), only the
 * first bad line is returned, lines are cut at 200 octets and section names at 50, and an
 * indented line continues any key. Working around that took a reader that re-implemented inih's
 * line rules anyway, so those rules are now the parser:
 *   - Lines starting (after white space) with ';' or '#' are comments; a UTF-8 BOM on line 1
 *     is skipped; CR LF ends a line like LF.
 *   - [KIND] and [KIND "NAME"] start a section (section_line).
 *   - KEY = VALUE (or KEY: VALUE): split at the first '=' or ':'; key and value trimmed.
 *   - " ; text" ends a value: a ';' after white space starts an inline comment; '#' inside a
 *     value is kept.
 *   - An indented line after a key continues that key (a section header ends it; a comment, a
 *     blank or a bad line does not). Only the list keys accept that (domains, contact, listen,
 *     hosts, alpn).
 *   - A line holds at most CONFIG_LINE_MAX characters (comments any number).
 * Every bad line is reported with its number, and parsing goes on to find them all.
 *
 * Relative paths in values are resolved against the directory of the config file (made
 * absolute), so `password-file = secrets/iis.pass` in /etc/ccs/ccs.conf means
 * /etc/ccs/secrets/iis.pass whatever the working directory of the process reading it. */
#include "manage/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "store/check.h"
#include "store/names.h"
#include "store/smb_location.h"
#include "store/store.h"
#include "util/strmap.h"
#include "util/suggest.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Past this many, further errors are counted, not kept: a binary file fed as config would
 * otherwise produce one per line. */
#define CONFIG_ERRORS_MAX 200
/* Store and certificate names become file names (live-dir/NAME/) and labels; keep them short. */
#define CONFIG_NAME_MAX 128
/* A hook or a script running for a day is stuck, not slow. */
#define TIMEOUT_MAX_S (24 * 3600)
/* Ten years: a longer renewal interval is a typo. */
#define RENEWAL_DAYS_MAX 3650
#define PORT_MAX 65535
/* Certificate files get permission bits only: no set-id or sticky bits. */
#define FILE_MODE_MAX 0777
#define STORE_MODE_DEFAULT 0640 /* config.h */
/* The machine copy's directory: readable by the services that use the certificate. */
#define LIVE_COPY_DIR_MODE 0755
/* Longest user or group name useradd/groupadd accept. */
#define ACCOUNT_NAME_MAX 32
/* Longest shown value in a message; longer ones are cut with "...". */
#define SHOWN_MAX 120
/* Upper bound for the number of keys one section kind has (the task has the most). */
#define SECTION_KEYS_MAX 20
/* Longest line, without its line end: room for a path of PATH_MAX and its key. A longer list
 * is split over lines (repeated or continued keys). */
#define CONFIG_LINE_MAX 4096
/* Room for a certificate name or a host taken out of a value: longer ones are refused anyway
 * (CONFIG_NAME_MAX, DNS_NAME_MAX), cut to this they still are. */
#define PART_ROOM 256

static const char *const renewal_mode_names[] = {"percent", "days-before-expiry",
                                                 "days-after-renewal"};
static const char *const deployment_names[] = {"no-deployment", "store-only"};
static const char *const task_type_names[] = {"deploy-ccs", "export", "script"};
static const char *const task_phase_names[] = {"pre", "post"};
static const char *const task_trigger_names[] = {"on-success", "on-error", "any", "manual"};
static const char *const challenge_names[] = {"http-01", "dns-01"};
static const char *const bool_true[] = {"yes", "true", "1", "on"};
static const char *const bool_false[] = {"no", "false", "0", "off"};

static const char *name_in(const char *const *names, size_t count, int value)
{
    return value >= 0 && (size_t)value < count ? names[value] : "unknown";
}

const char *renewal_mode_name(enum renewal_mode m)
{
    return name_in(renewal_mode_names, COUNT(renewal_mode_names), (int)m);
}

const char *deployment_mode_name(enum deployment_mode m)
{
    return name_in(deployment_names, COUNT(deployment_names), (int)m);
}

const char *task_type_name(enum task_type t)
{
    return name_in(task_type_names, COUNT(task_type_names), (int)t);
}

const char *task_phase_name(enum task_phase p)
{
    return name_in(task_phase_names, COUNT(task_phase_names), (int)p);
}

const char *task_trigger_name(enum task_trigger t)
{
    return name_in(task_trigger_names, COUNT(task_trigger_names), (int)t);
}

/* ---- the keys ---------------------------------------------------------------------------- */

enum value_kind {
    V_TEXT,    /* any text without control characters */
    V_TOKEN,   /* text without white space */
    V_PATH,    /* a path, made absolute; not checked (it may be created later) */
    V_STORE_LOCATION, /* a V_PATH, or an SMB share's location (checked, kept as written) */
    V_FILE,    /* a path to an existing regular file, not read (secrets, the CA bundle) */
    V_PROGRAM, /* a path to an existing executable regular file */
    V_URL,     /* an https:// URL (RFC 8555 §6.1: ACME is HTTPS only) */
    V_ADDRESS, /* an IPv4 or IPv6 literal */
    V_ACCOUNT, /* a user or group name, or a numeric id */
    V_BOOL,
    V_PORT,
    V_SECONDS,
    V_MODE,   /* octal permission bits */
    V_NUMBER, /* renewal-value: its range depends on renewal-mode, checked at the end */
    V_KEY_TYPE,
    V_PFX_FORMAT,
    V_RENEWAL_MODE,
    V_DEPLOYMENT,
    V_CHALLENGE,
    V_TASK_TYPE,
    V_PHASE,
    V_TRIGGER,
    V_DOMAINS, /* lists: may be repeated and continued on indented lines; they accumulate */
    V_CONTACT,
    /* [serve] and [site] */
    V_LISTEN,         /* list of ADDR:PORT (config_strings) */
    V_HOSTS,          /* list of host names or *.parent, kept in A-label form */
    V_ALPN,           /* list of protocol names */
    V_BACKEND,        /* HOST:PORT or /path/of.sock */
    V_ADDR_PORT,      /* one ADDR:PORT */
    V_DEFAULT_CERT,   /* a host name or "reject" */
    V_TLS_VERSION,    /* "1.2" or "1.3" */
    V_PROXY_PROTOCOL, /* off, v1, v2 */
    V_CIPHERS,        /* an OpenSSL cipher list (TLS 1.2) */
    V_CIPHERSUITES,   /* an OpenSSL ciphersuite list (TLS 1.3) */
    V_COUNT,          /* max-connections */
    V_WORKERS,        /* "auto" or a count */
};

#define ONLY(type) (1u << (type))

struct key_def {
    const char *name;
    size_t offset; /* of the field in the section's struct (unused for the lists) */
    enum value_kind kind;
    unsigned task_types; /* tasks: the types the key belongs to (ONLY bits); 0: every type */
};

static const struct key_def ccs_keys[] = {
    {"state-dir", offsetof(struct config, state_dir), V_PATH, 0},
    {"server", offsetof(struct config, server), V_URL, 0},
    {"ca-bundle", offsetof(struct config, ca_bundle), V_FILE, 0},
    {"contact", 0, V_CONTACT, 0},
    {"agree-tos", offsetof(struct config, agree_tos), V_BOOL, 0},
    {"eab-kid", offsetof(struct config, eab_kid), V_TOKEN, 0},
    {"eab-hmac-file", offsetof(struct config, eab_hmac_file), V_FILE, 0},
    {"key-type", offsetof(struct config, key_type), V_KEY_TYPE, 0},
    {"renewal-mode", offsetof(struct config, policy.mode), V_RENEWAL_MODE, 0},
    {"renewal-value", offsetof(struct config, policy.value), V_NUMBER, 0},
    {"http-port", offsetof(struct config, http_port), V_PORT, 0},
    {"live-dir", offsetof(struct config, live_dir), V_PATH, 0},
};

static const struct key_def store_keys[] = {
    {"location", offsetof(struct config_store, location), V_STORE_LOCATION, 0},
    {"password-file", offsetof(struct config_store, password_file), V_FILE, 0},
    {"format", offsetof(struct config_store, format), V_PFX_FORMAT, 0},
    {"mode", offsetof(struct config_store, mode), V_MODE, 0},
    {"group", offsetof(struct config_store, group), V_ACCOUNT, 0},
    {"credentials-file", offsetof(struct config_store, credentials_file), V_FILE, 0},
    {"kerberos", offsetof(struct config_store, kerberos), V_BOOL, 0},
    {"encrypt", offsetof(struct config_store, encrypt), V_BOOL, 0},
    {"guest", offsetof(struct config_store, guest), V_BOOL, 0},
};

#define CERT_FIELD(f) offsetof(struct config_certificate, f)
static const struct key_def certificate_keys[] = {
    {"domains", 0, V_DOMAINS, 0},
    {"challenge", CERT_FIELD(challenge), V_CHALLENGE, 0},
    {"webroot", CERT_FIELD(webroot), V_PATH, 0},
    {"hook", CERT_FIELD(hook), V_PROGRAM, 0},
    {"hook-timeout", CERT_FIELD(hook_timeout_s), V_SECONDS, 0},
    {"http-port", CERT_FIELD(http_port), V_PORT, 0},
    {"http-listen", CERT_FIELD(http_listen), V_ADDRESS, 0},
    {"key-type", CERT_FIELD(key_type), V_KEY_TYPE, 0},
    {"reuse-key", CERT_FIELD(reuse_key), V_BOOL, 0},
    {"profile", CERT_FIELD(profile), V_TOKEN, 0},
    {"preferred-chain", CERT_FIELD(preferred_chain), V_TEXT, 0},
    {"renewal-mode", CERT_FIELD(policy.mode), V_RENEWAL_MODE, 0},
    {"renewal-value", CERT_FIELD(policy.value), V_NUMBER, 0},
    {"deployment", CERT_FIELD(deployment), V_DEPLOYMENT, 0},
    {"pfx-password-file", CERT_FIELD(pfx_password_file), V_FILE, 0},
};

#define TASK_FIELD(f) offsetof(struct config_task, f)
#define EXPORT_ONLY ONLY(TASK_EXPORT)
static const struct key_def task_keys[] = {
    {"type", TASK_FIELD(type), V_TASK_TYPE, 0},
    {"phase", TASK_FIELD(phase), V_PHASE, 0},
    {"trigger", TASK_FIELD(trigger), V_TRIGGER, 0},
    {"fatal", TASK_FIELD(fatal), V_BOOL, 0},
    {"run-if-previous-failed", TASK_FIELD(run_if_previous_failed), V_BOOL, 0},
    {"store", TASK_FIELD(store), V_TOKEN, ONLY(TASK_DEPLOY_CCS)},
    {"cert", TASK_FIELD(cert_path), V_PATH, EXPORT_ONLY},
    {"chain", TASK_FIELD(chain_path), V_PATH, EXPORT_ONLY},
    {"fullchain", TASK_FIELD(fullchain_path), V_PATH, EXPORT_ONLY},
    {"key", TASK_FIELD(key_path), V_PATH, EXPORT_ONLY},
    {"pfx", TASK_FIELD(pfx_path), V_PATH, EXPORT_ONLY},
    {"pfx-password-file", TASK_FIELD(pfx_password_file), V_FILE, EXPORT_ONLY},
    {"mode", TASK_FIELD(mode), V_MODE, EXPORT_ONLY},
    {"owner", TASK_FIELD(owner), V_ACCOUNT, EXPORT_ONLY},
    {"group", TASK_FIELD(group), V_ACCOUNT, EXPORT_ONLY},
    {"program", TASK_FIELD(program), V_PROGRAM, ONLY(TASK_SCRIPT)},
    {"timeout", TASK_FIELD(timeout_s), V_SECONDS, ONLY(TASK_SCRIPT)},
};

_Static_assert(COUNT(ccs_keys) <= SECTION_KEYS_MAX, "raise SECTION_KEYS_MAX");
_Static_assert(COUNT(certificate_keys) <= SECTION_KEYS_MAX, "raise SECTION_KEYS_MAX");
#define SERVE_FIELD(f) offsetof(struct config_serve, f)
static const struct key_def serve_keys[] = {
    {"listen", SERVE_FIELD(listen), V_LISTEN, 0},
    {"store", SERVE_FIELD(store), V_TOKEN, 0},
    {"backend", SERVE_FIELD(backend), V_BACKEND, 0},
    {"default-certificate", SERVE_FIELD(default_certificate), V_DEFAULT_CERT, 0},
    {"hosts", SERVE_FIELD(hosts), V_HOSTS, 0},
    {"min-tls-version", SERVE_FIELD(min_tls_version), V_TLS_VERSION, 0},
    {"ciphers", SERVE_FIELD(ciphers), V_CIPHERS, 0},
    {"ciphersuites", SERVE_FIELD(ciphersuites), V_CIPHERSUITES, 0},
    {"alpn", SERVE_FIELD(alpn), V_ALPN, 0},
    {"proxy-protocol", SERVE_FIELD(proxy_protocol), V_PROXY_PROTOCOL, 0},
    {"handshake-timeout", SERVE_FIELD(handshake_timeout_s), V_SECONDS, 0},
    {"idle-timeout", SERVE_FIELD(idle_timeout_s), V_SECONDS, 0},
    {"drain-timeout", SERVE_FIELD(drain_timeout_s), V_SECONDS, 0},
    {"max-connections", SERVE_FIELD(max_connections), V_COUNT, 0},
    {"workers", SERVE_FIELD(workers), V_WORKERS, 0},
    {"user", SERVE_FIELD(user), V_ACCOUNT, 0},
    {"admin", SERVE_FIELD(admin), V_ADDR_PORT, 0},
};

#define SITE_FIELD(f) offsetof(struct config_site, f)
static const struct key_def site_keys[] = {
    {"hosts", SITE_FIELD(hosts), V_HOSTS, 0},
    {"backend", SITE_FIELD(backend), V_BACKEND, 0},
    {"proxy-protocol", SITE_FIELD(proxy_protocol), V_PROXY_PROTOCOL, 0},
};

_Static_assert(COUNT(task_keys) <= SECTION_KEYS_MAX, "raise SECTION_KEYS_MAX");
_Static_assert(COUNT(serve_keys) <= SECTION_KEYS_MAX, "raise SECTION_KEYS_MAX");

/* The export task's outputs: at least one is required. */
static const char *const export_path_keys[] = {"cert", "chain", "fullchain", "key", "pfx"};

enum section_kind {
    SEC_NONE,
    SEC_SKIP,
    SEC_CCS,
    SEC_STORE,
    SEC_CERTIFICATE,
    SEC_TASK,
    SEC_SERVE,
    SEC_SITE,
};

struct section_def {
    const char *name;
    enum section_kind kind;
    int named; /* [KIND "NAME"] */
    const struct key_def *keys;
    size_t key_count;
};

static const struct section_def sections[] = {
    {"ccs", SEC_CCS, 0, ccs_keys, COUNT(ccs_keys)},
    {"store", SEC_STORE, 1, store_keys, COUNT(store_keys)},
    {"certificate", SEC_CERTIFICATE, 1, certificate_keys, COUNT(certificate_keys)},
    {"task", SEC_TASK, 1, task_keys, COUNT(task_keys)},
    {"serve", SEC_SERVE, 0, serve_keys, COUNT(serve_keys)},
    {"site", SEC_SITE, 1, site_keys, COUNT(site_keys)},
};

static const struct section_def *section_of(enum section_kind kind)
{
    for (size_t i = 0; i < COUNT(sections); i++)
        if (sections[i].kind == kind)
            return &sections[i];
    return NULL;
}

static int key_index(const struct section_def *s, const char *name)
{
    for (size_t i = 0; i < s->key_count; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- the parser's state ------------------------------------------------------------------- */

_Static_assert(SECTION_KEYS_MAX <= 32, "struct meta's key_bad is a 32-bit mask");

/* A key's first setting in a section, or (key SEEN_DOMAIN) one domain of a certificate. */
struct seen {
    int line;
    unsigned char key; /* index in the section's key table */
};
#define SEEN_DOMAIN UCHAR_MAX
_Static_assert(SECTION_KEYS_MAX < SEEN_DOMAIN, "key indexes must not collide with SEEN_DOMAIN");

/* What the parse learnt about one section beyond its struct: where each key was set. Only what
 * was set is kept (a section sets two or three of its keys): a table of every key's line in
 * every section was a third of the memory a config of 100,000 certificates took to check. */
struct meta {
    struct seen *seen;  /* in file order; capacity implied by seen_count (grow_one) */
    size_t seen_count;
    uint32_t key_bad;   /* bit K: key K set, but its value was refused (reported) */
    /* certificates, from one pass over the tasks (link_tasks): no scan of every task per
     * certificate */
    size_t first_deploy;   /* 1 + index of its first deploy-ccs task naming a store; 0: none */
    int has_deploy_store;  /* a deploy-ccs task of it names a store that exists */
};

/* The lookups config_find_* make: name → index into cfg->certificates and cfg->stores. The keys
 * are the sections' own name strings (strmap borrows them). */
struct config_index {
    struct strmap certificates, stores;
};

struct parser {
    struct config *cfg;
    struct config_errors *errors;
    size_t errors_cap;
    size_t errors_dropped;
    const char *file;   /* as given: errors name it so */
    char dir[PATH_MAX]; /* the file's directory, absolute: relative paths start here */
    FILE *fp;
    int line; /* the line being parsed */
    /* The key of the last KEY = VALUE line since the section header ("": none), which an
     * indented line continues. Longer keys are cut, and unknown anyway (keys are short). */
    char prev_key[SUGGEST_WORD_MAX + 1];
    enum section_kind kind; /* the current section */
    size_t index;           /* its entity in the config's array */
    char label[2 * CONFIG_NAME_MAX + 32]; /* "[task \"www.ccs\"]", for messages */
    int ccs_line;
    struct meta ccs_meta;
    struct meta *store_meta, *certificate_meta, *task_meta; /* parallel to the config's arrays */
    int out_of_memory;
    int closing; /* adding the closing notes, which may exceed CONFIG_ERRORS_MAX */
    int serve_line;
    struct meta serve_meta;
    struct meta *site_meta; /* parallel to the config's sites */
    size_t file_tasks; /* tasks of the file, with a task_meta each (implied ones come after) */
    /* The compared forms of the current certificate's domains so far, NUL-separated, for the
     * "listed twice" check: each domain is normalised once (IDNA is most of the parse's time). */
    char *domain_keys;
    size_t domain_keys_len, domain_keys_cap;
    size_t domain_keys_of; /* 1 + the index of the certificate they belong to; 0: none */
    struct strmap task_names; /* "CERT.TASK" → task index, for duplicates; keys in task_keys */
    char **task_keys;
    size_t task_key_count;
};

static void add_error(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(struct parser *p, int line, const char *fmt, ...)
{
    struct config_errors *e = p->errors;
    struct config_error *item;
    va_list ap;

    if (e->count >= CONFIG_ERRORS_MAX && !p->closing) {
        p->errors_dropped++;
        return;
    }
    if (e->count == p->errors_cap) {
        size_t cap = p->errors_cap ? 2 * p->errors_cap : 16;
        struct config_error *items = realloc(e->items, cap * sizeof(*items));
        if (!items) {
            p->out_of_memory = 1;
            return;
        }
        e->items = items;
        p->errors_cap = cap;
    }
    item = &e->items[e->count++];
    item->where.file = e->file ? e->file : "(configuration)"; /* NULL: out of memory (reported) */
    item->where.line = line;
    va_start(ap, fmt);
    vsnprintf(item->message, sizeof(item->message), fmt, ap);
    va_end(ap);
}

/* No room left for errors: a caller about to search for a suggestion can count this one as
 * dropped instead (a config of 100,000 tasks naming one missing store must not search 100,000
 * times for nothing). */
static int errors_full(struct parser *p)
{
    if (p->errors->count < CONFIG_ERRORS_MAX || p->closing)
        return 0;
    p->errors_dropped++;
    return 1;
}

static char *dup_or_flag(struct parser *p, const char *s)
{
    char *d = strdup(s);
    if (!d)
        p->out_of_memory = 1;
    return d;
}

/* Make room in *ITEMS (COUNT elements of SIZE) for one more, zeroed. The room doubles when COUNT
 * reaches a power of two (the capacity is implied by the count, not stored), so a config of N
 * sections costs O(N) copying, not O(N^2). */
static int grow_one(struct parser *p, void **items, size_t count, size_t size)
{
    char *grown = *items;

    if (count == 0 || (count & (count - 1)) == 0) {
        size_t cap = count ? 2 * count : 1;
        if (cap > SIZE_MAX / size || !(grown = realloc(*items, cap * size))) {
            p->out_of_memory = 1;
            return -1;
        }
        *items = grown;
    }
    memset(grown + count * size, 0, size);
    return 0;
}

/* S, printable, for a message: store_name_escape's \xNN form, cut at SHOWN_MAX. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t len = strlen(s);
    store_name_escape(s, len < SHOWN_MAX ? len : SHOWN_MAX, buf, size);
    if (len > SHOWN_MAX && strlen(buf) + 4 <= size)
        strcat(buf, "...");
    return buf;
}

#define SHOWN_BUF (SHOWN_MAX * 4 + 8)

/* ---- "did you mean" ------------------------------------------------------------------------ */

/* For an unknown key that looks like a secret given inline ("password", "eab-hmac"): the
 * section's *-file key it should have been, or NULL. */
static const char *secret_file_key(const struct section_def *sec, const char *word)
{
    static const char *const secret_words[] = {"password", "passwd", "pass", "hmac", "secret"};
    const char *fallback = NULL;
    int secret = 0;

    for (size_t i = 0; i < COUNT(secret_words); i++)
        secret |= strstr(word, secret_words[i]) != NULL;
    if (!secret)
        return NULL;
    for (size_t i = 0; i < sec->key_count; i++) {
        const char *k = sec->keys[i].name;
        size_t len = strlen(k);
        if (len < 5 || strcmp(k + len - 5, "-file") != 0)
            continue;
        if (strstr(k, word))
            return k;
        if (!fallback)
            fallback = k;
    }
    return fallback;
}

static void unknown_key(struct parser *p, const struct section_def *sec, const char *name)
{
    struct suggestion s = {NULL, 0};
    const char *file_key = secret_file_key(sec, name);
    char buf[SHOWN_BUF];

    shown(name, buf, sizeof(buf));
    if (file_key) {
        add_error(p, p->line,
                  "unknown key \"%s\" in %s (did you mean \"%s\"? secrets are given as files only)",
                  buf, p->label, file_key);
        return;
    }
    for (size_t i = 0; i < sec->key_count; i++)
        suggest_consider(&s, name, sec->keys[i].name);
    if (s.best)
        add_error(p, p->line, "unknown key \"%s\" in %s (did you mean \"%s\"?)", buf, p->label,
                  s.best);
    else
        add_error(p, p->line, "unknown key \"%s\" in %s", buf, p->label);
}

/* ---- values -------------------------------------------------------------------------------- */

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
    add_error(p, p->line, "%s \"%s\": %s", key->name, shown(value, buf, sizeof(buf)), why);
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
        return dup_or_flag(p, value);
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
        char shown[sizeof(err.msg)];
        smb_location_display(value, shown, sizeof(shown)); /* never a password in a message */
        add_error(p, p->line, "location \"%s\": %s", shown, err.msg);
        return -1;
    }
    return set_string(field, dup_or_flag(p, value));
}

static int set_url(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    static const char scheme[] = "https://";

    if (strncasecmp(value, scheme, strlen(scheme)) != 0 || !value[strlen(scheme)] ||
        has_space(value))
        return bad_value(p, key, value, "not an https:// URL (ACME runs over HTTPS only)");
    return set_string(field, dup_or_flag(p, value));
}

static int set_address(struct parser *p, const struct key_def *key, char **field, const char *value)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, value, addr) != 1 && inet_pton(AF_INET6, value, addr) != 1)
        return bad_value(p, key, value, "not an IPv4 or IPv6 address");
    return set_string(field, dup_or_flag(p, value));
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

/* Line of key K's first setting in the section of M; 0: not set. */
static int key_line(const struct meta *m, int k)
{
    for (size_t i = 0; i < m->seen_count; i++)
        if (m->seen[i].key == k)
            return m->seen[i].line;
    return 0;
}

/* Record KEY (a key index or SEEN_DOMAIN) at the current line. */
static int add_seen(struct parser *p, struct meta *m, int key)
{
    if (grow_one(p, (void **)&m->seen, m->seen_count, sizeof(*m->seen)) < 0)
        return -1;
    m->seen[m->seen_count].line = p->line;
    m->seen[m->seen_count++].key = (unsigned char)key;
    return 0;
}

/* Line of the certificate's domain number N (0-based). */
static int domain_line(const struct meta *m, size_t n)
{
    for (size_t i = 0; i < m->seen_count; i++)
        if (m->seen[i].key == SEEN_DOMAIN && n-- == 0)
            return m->seen[i].line;
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
        add_error(p, p->line, "%s: %s", key->name, err.msg);
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
                             domain_line(m, n));
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
    if (grow_one(p, (void **)&c->domains, c->domain_count, sizeof(*c->domains)) < 0 ||
        add_seen(p, m, SEEN_DOMAIN) < 0)
        return -1;
    c->domains[c->domain_count] = dup_or_flag(p, domain);
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
    if (grow_one(p, (void **)&cfg->contact, cfg->contact_count, sizeof(*cfg->contact)) < 0)
        return -1;
    cfg->contact[cfg->contact_count] = dup_or_flag(p, contact);
    if (!cfg->contact[cfg->contact_count])
        return -1;
    cfg->contact_count++;
    return 0;
}

/* domains and contact: items separated by commas and/or white space. */
static int add_list(struct parser *p, const struct key_def *key, void *entity, struct meta *m,
                    const char *value)
{
    char *copy = dup_or_flag(p, value), *save = NULL;
    int rc = 0;

    if (!copy)
        return -1;
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
        if (key->kind == V_DOMAINS)
            rc |= add_domain(p, key, entity, m, item);
        else
            rc |= add_contact(p, key, entity, item);
    }
    free(copy);
    return rc;
}

/* The keys whose value is one of a fixed list of names. */
struct choice {
    enum value_kind kind;
    const char *const *names;
    size_t count;
};

static const struct choice choices[] = {
    {V_RENEWAL_MODE, renewal_mode_names, COUNT(renewal_mode_names)},
    {V_DEPLOYMENT, deployment_names, COUNT(deployment_names)},
    {V_TASK_TYPE, task_type_names, COUNT(task_type_names)},
    {V_PHASE, task_phase_names, COUNT(task_phase_names)},
    {V_TRIGGER, task_trigger_names, COUNT(task_trigger_names)},
    {V_CHALLENGE, challenge_names, COUNT(challenge_names)},
};

/* The names tables are in enum order, so the index is the value. */
static int set_choice(struct parser *p, const struct key_def *key, void *field, const char *value)
{
    const struct choice *c = NULL;
    int i = 0;

    for (size_t n = 0; n < COUNT(choices); n++)
        if (choices[n].kind == key->kind)
            c = &choices[n];
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
        return set_string(field, dup_or_flag(p, c->names[i]));
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

/* ---- [serve] and [site]: values ------------------------------------------------------------ */

static const char *const proxy_protocol_names[] = {"off", "v1", "v2"};
static const char *const tls_version_names[] = {"1.2", "1.3"};
/* ALPN protocol names are 1 to 255 octets (RFC 7301 §3.1). */
#define ALPN_NAME_MAX 255
/* sun_path of struct sockaddr_un, with its NUL. */
#define UNIX_PATH_ROOM 108

const char *proxy_protocol_mode_name(enum proxy_protocol_mode m)
{
    return name_in(proxy_protocol_names, COUNT(proxy_protocol_names), (int)m);
}

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
                 start != value ? "not an IPv6 address between the brackets"
                 : names_allowed
                     ? "not an IPv4 address, an [IPv6] address or a host name"
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

    if (config_split_host_port(value, names_allowed, host, sizeof(host), &port, why,
                               sizeof(why)) < 0)
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
    return set_string(field, dup_or_flag(p, value));
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
        add_error(p, p->line, "%s: %s", key->name, err.msg);
        return -1;
    }
    if (name.wildcard && !wildcard_ok)
        return bad_value(p, key, value, "a wildcard; name one host");
    snprintf(ace, size, "%s", name.ace);
    return 0;
}

static int add_string(struct parser *p, struct config_strings *list, const char *item)
{
    if (grow_one(p, (void **)&list->items, list->count, sizeof(*list->items)) < 0 ||
        grow_one(p, (void **)&list->lines, list->count, sizeof(*list->lines)) < 0)
        return -1;
    list->items[list->count] = dup_or_flag(p, item);
    if (!list->items[list->count])
        return -1;
    list->lines[list->count++] = p->line;
    return 0;
}

/* One item of listen, hosts or alpn. */
static int add_serve_item(struct parser *p, const struct key_def *key, struct config_strings *list,
                          const char *item)
{
    char ace[DNS_NAME_MAX + 1];
    const char *keep = item;

    if (key->kind == V_LISTEN && check_host_port(p, key, item, 0) < 0)
        return -1;
    if (key->kind == V_HOSTS) {
        if (served_host(p, key, item, 1, ace, sizeof(ace)) < 0)
            return -1;
        keep = ace;
    }
    if (key->kind == V_ALPN &&
        (strlen(item) > ALPN_NAME_MAX || strspn(item, "abcdefghijklmnopqrstuvwxyz"
                                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/") !=
                                              strlen(item)))
        return bad_value(p, key, item,
                         "not a protocol name such as h2 or http/1.1 (letters, digits, "
                         "'-', '.', '_', '/'; at most %d)",
                         ALPN_NAME_MAX);
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i], keep) == 0)
            return bad_value(p, key, item, "listed twice (first at line %d)", list->lines[i]);
    return add_string(p, list, keep);
}

static int add_serve_list(struct parser *p, const struct key_def *key, struct config_strings *list,
                          const char *value)
{
    char *copy = dup_or_flag(p, value), *save = NULL;
    int rc = 0;

    if (!copy)
        return -1;
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save))
        rc |= add_serve_item(p, key, list, item);
    free(copy);
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
    return set_string(field, dup_or_flag(p, value));
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
        return set_string(field, dup_or_flag(p, value));
    case V_DEFAULT_CERT:
        if (strcmp(value, SERVE_DEFAULT_CERTIFICATE_REJECT) == 0)
            return set_string(field, dup_or_flag(p, value));
        if (served_host(p, key, value, 0, ace, sizeof(ace)) < 0)
            return -1;
        return set_string(field, dup_or_flag(p, ace));
    case V_TLS_VERSION:
        if (parse_choice(p, key, value, tls_version_names, COUNT(tls_version_names), &i) < 0)
            return -1;
        *(int *)field = i == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
        return 0;
    case V_PROXY_PROTOCOL:
        if (parse_choice(p, key, value, proxy_protocol_names, COUNT(proxy_protocol_names), &i) <
            0)
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
static int set_value(struct parser *p, const struct key_def *key, void *entity, struct meta *m,
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
        return set_string(field, dup_or_flag(p, value));
    case V_TOKEN:
        if (has_space(value))
            return bad_value(p, key, value, "contains white space");
        return set_string(field, dup_or_flag(p, value));
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
        return set_string(field, dup_or_flag(p, value));
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

/* ---- sections ------------------------------------------------------------------------------- */

/* Store and certificate names (ALLOW_DOT) and task names: they end up in file names and
 * messages, so letters, digits, '-', '_' (and '.') only, not starting with '-' or '.'. */
static int check_name(struct parser *p, const char *what, const char *name, int allow_dot)
{
    const char *chars = allow_dot
                            ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
                            : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    size_t len = strlen(name);

    if (len == 0 || len > CONFIG_NAME_MAX || strspn(name, chars) != len || name[0] == '-' ||
        name[0] == '.') {
        char buf[SHOWN_BUF];
        add_error(p, p->line,
                  "%s name \"%s\" is not usable: letters, digits, '-', '_'%s only, not first "
                  "'-'%s, at most %d characters",
                  what, shown(name, buf, sizeof(buf)), allow_dot ? " and '.'" : "",
                  allow_dot ? " or '.'" : "", CONFIG_NAME_MAX);
        return -1;
    }
    return 0;
}

static void set_where(struct config_where *w, const struct parser *p)
{
    w->file = p->cfg->path; /* shared by every section (config.h) */
    w->line = p->line;
}

/* Index entity INDEX under its NAME (NULL: its copy failed, already flagged). */
static void index_name(struct parser *p, struct strmap *map, const char *name, size_t index)
{
    if (name && strmap_put(map, name, index, NULL) < 0)
        p->out_of_memory = 1;
}

static void open_ccs(struct parser *p)
{
    if (p->ccs_line)
        add_error(p, p->line, "duplicate section [ccs] (first at line %d)", p->ccs_line);
    else
        p->ccs_line = p->line;
    snprintf(p->label, sizeof(p->label), "[ccs]");
    p->kind = SEC_CCS;
}

static void open_store(struct parser *p, const char *name)
{
    struct config *cfg = p->cfg;
    const struct config_store *first = config_find_store(cfg, name);
    struct config_store *s;

    if (check_name(p, "store", name, 1) < 0)
        return;
    if (first)
        add_error(p, p->line, "duplicate section [store \"%s\"] (first at line %d)", name,
                  first->where.line);
    if (grow_one(p, (void **)&cfg->stores, cfg->store_count, sizeof(*cfg->stores)) < 0 ||
        grow_one(p, (void **)&p->store_meta, cfg->store_count, sizeof(*p->store_meta)) < 0)
        return;
    s = &cfg->stores[cfg->store_count];
    s->name = dup_or_flag(p, name);
    index_name(p, &cfg->index->stores, s->name, cfg->store_count);
    set_where(&s->where, p);
    s->format = PFX_FORMAT_COMPAT; /* imports on every Windows (pfx.h) */
    s->mode = STORE_MODE_DEFAULT;
    p->index = cfg->store_count++;
    p->kind = SEC_STORE;
    snprintf(p->label, sizeof(p->label), "[store \"%s\"]", name);
}

static void open_certificate(struct parser *p, const char *name)
{
    struct config *cfg = p->cfg;
    const struct config_certificate *first = config_find_certificate(cfg, name);
    struct config_certificate *c;

    if (check_name(p, "certificate", name, 1) < 0)
        return;
    if (first)
        add_error(p, p->line, "duplicate section [certificate \"%s\"] (first at line %d)", name,
                  first->where.line);
    if (grow_one(p, (void **)&cfg->certificates, cfg->certificate_count,
                 sizeof(*cfg->certificates)) < 0 ||
        grow_one(p, (void **)&p->certificate_meta, cfg->certificate_count,
                 sizeof(*p->certificate_meta)) < 0)
        return;
    c = &cfg->certificates[cfg->certificate_count];
    c->name = dup_or_flag(p, name);
    index_name(p, &cfg->index->certificates, c->name, cfg->certificate_count);
    set_where(&c->where, p);
    c->hook_timeout_s = CONFIG_DEFAULT_HOOK_TIMEOUT_S;
    c->deployment = DEPLOYMENT_NONE;
    p->index = cfg->certificate_count++;
    p->kind = SEC_CERTIFICATE;
    snprintf(p->label, sizeof(p->label), "[certificate \"%s\"]", name);
}

/* Remember FULL ("CERT.TASK", checked) as the name of the next task, or report it as a duplicate.
 * The full name identifies a task: the split at the last dot is unique, since task names hold no
 * dot. -1 only when out of memory. */
static int add_task_name(struct parser *p, const char *full)
{
    size_t first;
    char *key;
    int rc;

    if (grow_one(p, (void **)&p->task_keys, p->task_key_count, sizeof(*p->task_keys)) < 0 ||
        !(key = dup_or_flag(p, full)))
        return -1;
    p->task_keys[p->task_key_count++] = key;
    rc = strmap_put(&p->task_names, key, p->cfg->task_count, &first);
    if (rc < 0) {
        p->out_of_memory = 1;
        return -1;
    }
    if (rc == 1 && first < p->cfg->task_count)
        add_error(p, p->line, "duplicate section [task \"%s\"] (first at line %d)", full,
                  p->cfg->tasks[first].where.line);
    return 0;
}

/* [task "CERT.TASK"]: split at the last dot, since certificate names may hold dots and task
 * names may not. */
static void open_task(struct parser *p, const char *full)
{
    struct config *cfg = p->cfg;
    const char *dot = strrchr(full, '.');
    char cert[PART_ROOM];
    struct config_task *t;

    if (!dot || dot == full || !dot[1]) {
        char buf[SHOWN_BUF];
        add_error(p, p->line,
                  "task \"%s\" must be named CERT.TASK: the certificate's name, a dot, the "
                  "task's name",
                  shown(full, buf, sizeof(buf)));
        return;
    }
    snprintf(cert, sizeof(cert), "%.*s", (int)(dot - full), full);
    if (check_name(p, "certificate", cert, 1) < 0 || check_name(p, "task", dot + 1, 0) < 0)
        return;
    if (add_task_name(p, full) < 0)
        return;
    if (grow_one(p, (void **)&cfg->tasks, cfg->task_count, sizeof(*cfg->tasks)) < 0 ||
        grow_one(p, (void **)&p->task_meta, cfg->task_count, sizeof(*p->task_meta)) < 0)
        return;
    t = &cfg->tasks[cfg->task_count];
    t->name = dup_or_flag(p, dot + 1);
    t->certificate = dup_or_flag(p, cert);
    set_where(&t->where, p);
    t->phase = TASK_PHASE_POST;
    t->trigger = TRIGGER_ON_SUCCESS;
    /* mode stays 0 unless set: the export task then picks per kind of file (0640 for keys and
     * PFX, wider for certificates), as config.h describes. */
    t->timeout_s = CONFIG_DEFAULT_SCRIPT_TIMEOUT_S;
    p->index = cfg->task_count++;
    p->kind = SEC_TASK;
    snprintf(p->label, sizeof(p->label), "[task \"%s\"]", full);
}

static void open_serve(struct parser *p)
{
    struct config *cfg = p->cfg;

    if (p->serve_line) {
        add_error(p, p->line, "duplicate section [serve] (first at line %d)", p->serve_line);
        return;
    }
    cfg->serve = calloc(1, sizeof(*cfg->serve));
    if (!cfg->serve) {
        p->out_of_memory = 1;
        return;
    }
    p->serve_line = p->line;
    set_where(&cfg->serve->where, p);
    cfg->serve->min_tls_version = TLS1_2_VERSION;
    cfg->serve->proxy_protocol = PROXY_PROTOCOL_OFF;
    cfg->serve->handshake_timeout_s = SERVE_DEFAULT_HANDSHAKE_TIMEOUT_S;
    cfg->serve->idle_timeout_s = SERVE_DEFAULT_IDLE_TIMEOUT_S;
    cfg->serve->drain_timeout_s = SERVE_DEFAULT_DRAIN_TIMEOUT_S;
    cfg->serve->max_connections = SERVE_DEFAULT_MAX_CONNECTIONS;
    p->kind = SEC_SERVE;
    snprintf(p->label, sizeof(p->label), "[serve]");
}

static void open_site(struct parser *p, const char *name)
{
    struct config *cfg = p->cfg;
    struct config_site *site;

    if (check_name(p, "site", name, 1) < 0)
        return;
    for (size_t i = 0; i < cfg->site_count; i++)
        if (strcmp(cfg->sites[i].name, name) == 0)
            add_error(p, p->line, "duplicate section [site \"%s\"] (first at line %d)", name,
                      cfg->sites[i].where.line);
    if (grow_one(p, (void **)&cfg->sites, cfg->site_count, sizeof(*cfg->sites)) < 0 ||
        grow_one(p, (void **)&p->site_meta, cfg->site_count, sizeof(*p->site_meta)) < 0)
        return;
    site = &cfg->sites[cfg->site_count];
    site->name = dup_or_flag(p, name);
    set_where(&site->where, p);
    p->index = cfg->site_count++;
    p->kind = SEC_SITE;
    snprintf(p->label, sizeof(p->label), "[site \"%s\"]", name);
}

static void open_section(struct parser *p, const char *kind, const char *name)
{
    const struct section_def *def = NULL;
    struct suggestion s = {NULL, 0};
    char buf[SHOWN_BUF];

    p->kind = SEC_SKIP; /* until the section is known good: its keys are then ignored */
    for (size_t i = 0; i < COUNT(sections) && !def; i++)
        if (strcmp(sections[i].name, kind) == 0)
            def = &sections[i];
    for (size_t i = 0; i < COUNT(sections) && !def; i++) /* only for a message */
        suggest_consider(&s, kind, sections[i].name);
    shown(kind, buf, sizeof(buf));
    if (!def && s.best)
        add_error(p, p->line, "unknown section [%s] (did you mean [%s]?)", buf, s.best);
    else if (!def)
        add_error(p, p->line,
                  "unknown section [%s] (sections: [ccs], [store \"NAME\"], "
                  "[certificate \"NAME\"], [task \"CERT.TASK\"], [serve], [site \"NAME\"])",
                  buf);
    else if (def->named && !name)
        add_error(p, p->line, "section [%s] needs a name: [%s \"NAME\"]", kind, kind);
    else if (!def->named && name)
        add_error(p, p->line, "section [%s] takes no name", kind);
    else if (def->kind == SEC_CCS)
        open_ccs(p);
    else if (def->kind == SEC_STORE)
        open_store(p, name);
    else if (def->kind == SEC_CERTIFICATE)
        open_certificate(p, name);
    else if (def->kind == SEC_SERVE)
        open_serve(p);
    else if (def->kind == SEC_SITE)
        open_site(p, name);
    else
        open_task(p, name);
}

static char *trim(char *s)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Cut an inline comment (a ';' after white space) off S. */
static void cut_inline_comment(char *s)
{
    for (char *c = s; *c; c++)
        if (*c == ';' && c > s && isspace((unsigned char)c[-1])) {
            *c = '\0';
            return;
        }
}

/* A section header line, START at its '['. Forms: [KIND] and [KIND "NAME"]. */
static void section_line(struct parser *p, char *start)
{
    char *inner, *rest, *name = NULL;
    size_t len, kind_len;

    p->kind = SEC_SKIP;
    cut_inline_comment(start);
    start = trim(start);
    len = strlen(start);
    if (start[len - 1] != ']') {
        add_error(p, p->line, "section header without its closing ']'");
        return;
    }
    start[len - 1] = '\0';
    inner = trim(start + 1);
    kind_len = strcspn(inner, " \t\"");
    rest = inner + kind_len + strspn(inner + kind_len, " \t");
    len = strlen(rest);
    if (len &&
        (len < 3 || rest[0] != '"' || rest[len - 1] != '"' || memchr(rest + 1, '"', len - 2))) {
        inner[kind_len] = '\0';
        add_error(p, p->line, "section header must read [%s \"NAME\"]", inner);
        return;
    }
    if (len) {
        rest[len - 1] = '\0';
        name = rest + 1;
    }
    inner[kind_len] = '\0'; /* before the name: the quote it may overwrite is consumed */
    if (!*inner) {
        add_error(p, p->line, "section header without a section kind");
        return;
    }
    open_section(p, inner, name);
}

/* The separator of a KEY = VALUE line: the first '=' or ':' before any inline comment. */
static char *find_separator(char *s)
{
    int was_space = 0;
    for (; *s; s++) {
        if (*s == '=' || *s == ':')
            return s;
        if (was_space && *s == ';')
            return NULL;
        was_space = isspace((unsigned char)*s);
    }
    return NULL;
}

static void *current_entity(struct parser *p, struct meta **m)
{
    switch (p->kind) {
    case SEC_CCS:
        *m = &p->ccs_meta;
        return p->cfg;
    case SEC_STORE:
        *m = &p->store_meta[p->index];
        return &p->cfg->stores[p->index];
    case SEC_CERTIFICATE:
        *m = &p->certificate_meta[p->index];
        return &p->cfg->certificates[p->index];
    case SEC_TASK:
        *m = &p->task_meta[p->index];
        return &p->cfg->tasks[p->index];
    case SEC_SERVE:
        *m = &p->serve_meta;
        return p->cfg->serve;
    case SEC_SITE:
        *m = &p->site_meta[p->index];
        return &p->cfg->sites[p->index];
    default:
        return NULL;
    }
}

/* Keys that take several values: repeated, or continued on indented lines. */
static int list_kind(enum value_kind kind)
{
    return kind == V_DOMAINS || kind == V_CONTACT || kind == V_LISTEN || kind == V_HOSTS ||
           kind == V_ALPN;
}

/* KEY = VALUE in the current section; CONTINUED: VALUE is an indented line continuing KEY. */
static void on_key(struct parser *p, const char *name, const char *value, int continued)
{
    const struct section_def *sec = section_of(p->kind);
    struct meta *m = NULL;
    void *entity;
    int k, line;

    if (p->kind == SEC_SKIP)
        return;
    if (p->kind == SEC_NONE) {
        char buf[SHOWN_BUF];
        add_error(p, p->line,
                  "key \"%s\" before any section (keys go under [ccs] or a named "
                  "section)",
                  shown(name, buf, sizeof(buf)));
        return;
    }
    if (!*name) {
        add_error(p, p->line, "no key before '=' in %s", p->label);
        return;
    }
    k = key_index(sec, name);
    if (k < 0) {
        if (!continued) /* else the key itself was reported */
            unknown_key(p, sec, name);
        return;
    }
    entity = current_entity(p, &m);
    if (!entity)
        return;
    if (continued && !list_kind(sec->keys[k].kind)) {
        add_error(p, p->line,
                  "indented line continues \"%s\", which takes one value (only domains, "
                  "contact, listen, hosts and alpn continue on indented lines; unindent it to "
                  "start a key)",
                  sec->keys[k].name);
        return;
    }
    line = key_line(m, k);
    if (!continued && line && !list_kind(sec->keys[k].kind)) {
        add_error(p, p->line, "duplicate key \"%s\" in %s (first at line %d)", name, p->label,
                  line);
        return;
    }
    if (!line && add_seen(p, m, k) < 0)
        return;
    if (set_value(p, &sec->keys[k], entity, m, value) < 0)
        m->key_bad |= UINT32_C(1) << k;
}

/* One physical line, LEN octets with its line end: its shape (the rules at the top of this file),
 * then its key. Every bad line is reported, and the next one is read as if it had not been
 * there (a bad line neither starts nor ends a key a following indented line could continue). */
static void parse_line(struct parser *p, char *line, size_t len)
{
    char *text = line, *start, *sep, *name;

    if (strlen(line) != len) {
        add_error(p, p->line, "line contains a NUL byte");
        return;
    }
    if (p->line == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 BOM */
        text += 3;
    start = text + strspn(text, " \t\r\n\v\f");
    if (*start == '\0' || *start == ';' || *start == '#')
        return; /* a blank line or a comment, however long */
    if (*start == '[' && !(p->prev_key[0] && start > text)) {
        p->prev_key[0] = '\0';
        section_line(p, start);
        return;
    }
    if (strcspn(text, "\r\n") > CONFIG_LINE_MAX) {
        add_error(p, p->line,
                  "line longer than %d characters (domains and contact may be repeated, or "
                  "continued on indented lines)",
                  CONFIG_LINE_MAX);
        return;
    }
    if (p->prev_key[0] && start > text) { /* an indented line continues the previous key */
        cut_inline_comment(start);
        on_key(p, p->prev_key, trim(start), 1);
        return;
    }
    sep = find_separator(start);
    if (!sep) {
        add_error(p, p->line, "expected KEY = VALUE, a [section] header or a comment");
        return;
    }
    *sep = '\0';
    name = trim(start);
    cut_inline_comment(sep + 1);
    /* An empty key (a line starting with '=') is reported, and leaves nothing to continue. */
    snprintf(p->prev_key, sizeof(p->prev_key), "%s", name);
    on_key(p, name, trim(sep + 1), 0);
}

/* ---- after the last line: defaults and cross-references --------------------------------- */

/* Line where NAME was set in a section described by M and SEC, if it was set with a good value;
 * else 0. */
static int good_line(const struct meta *m, enum section_kind kind, const char *name)
{
    int k = key_index(section_of(kind), name);
    return k >= 0 && !(m->key_bad & (UINT32_C(1) << k)) ? key_line(m, k) : 0;
}

/* Line where NAME was set, good value or not; 0 if it was not. */
static int seen_line(const struct meta *m, enum section_kind kind, const char *name)
{
    int k = key_index(section_of(kind), name);
    return k >= 0 ? key_line(m, k) : 0;
}

static void require(struct parser *p, const struct meta *m, enum section_kind kind,
                    const char *label, int line, const char *name)
{
    if (!seen_line(m, kind, name))
        add_error(p, line, "missing key \"%s\" in %s", name, label);
}

/* The renewal policy of a section: its own keys, else INHERIT's (the [ccs] one), else the
 * default (percent, RENEWAL_DEFAULT_PERCENT). Reported at the keys' lines. */
static void resolve_policy(struct parser *p, const struct meta *m, enum section_kind kind,
                           const char *label, struct renewal_policy *pol,
                           const struct renewal_policy *inherit)
{
    int mode_line = seen_line(m, kind, "renewal-mode");
    int value_line = seen_line(m, kind, "renewal-value");
    const struct renewal_policy fallback = {RENEWAL_PERCENT_OF_LIFETIME, RENEWAL_DEFAULT_PERCENT};
    const struct renewal_policy *base = inherit ? inherit : &fallback;

    if (!good_line(m, kind, "renewal-mode") && mode_line)
        return; /* reported */
    if (!mode_line)
        pol->mode = base->mode;
    if (!value_line) {
        if (pol->mode == base->mode)
            pol->value = base->value;
        else if (pol->mode == RENEWAL_PERCENT_OF_LIFETIME)
            pol->value = RENEWAL_DEFAULT_PERCENT;
        else
            add_error(p, mode_line, "renewal-mode %s needs a renewal-value (days) in %s",
                      renewal_mode_name(pol->mode), label);
        return;
    }
    if (!good_line(m, kind, "renewal-value"))
        return;
    if (pol->mode == RENEWAL_PERCENT_OF_LIFETIME && !(pol->value > 0 && pol->value < 100))
        add_error(p, value_line,
                  "renewal-value %g is out of range for renewal-mode percent (more than 0, "
                  "less than 100)",
                  pol->value);
    else if (pol->mode != RENEWAL_PERCENT_OF_LIFETIME &&
             !(pol->value > 0 && pol->value < RENEWAL_DAYS_MAX))
        add_error(p, value_line,
                  "renewal-value %g is out of range for renewal-mode %s (more than 0 days, "
                  "less than %d)",
                  pol->value, renewal_mode_name(pol->mode), RENEWAL_DAYS_MAX);
}

static int set_default(struct parser *p, char **field, const char *value)
{
    if (!*field)
        *field = dup_or_flag(p, value);
    return *field ? 0 : -1;
}

static void finish_ccs(struct parser *p)
{
    struct config *cfg = p->cfg;
    const struct meta *m = &p->ccs_meta;
    int kid = seen_line(m, SEC_CCS, "eab-kid"), hmac = seen_line(m, SEC_CCS, "eab-hmac-file");

    set_default(p, &cfg->state_dir, CONFIG_DEFAULT_STATE_DIR);
    set_default(p, &cfg->server, CONFIG_DEFAULT_SERVER);
    set_default(p, &cfg->live_dir, CONFIG_DEFAULT_LIVE_DIR);
    if (kid && !hmac)
        add_error(p, kid, "eab-kid needs eab-hmac-file in [ccs] (external account binding)");
    if (hmac && !kid)
        add_error(p, hmac, "eab-hmac-file needs eab-kid in [ccs] (external account binding)");
    resolve_policy(p, m, SEC_CCS, "[ccs]", &cfg->policy, NULL);
}

/* Keys that belong to one kind of location only: mode and group to a local directory (a share's
 * own permissions apply), the share keys to a share. */
static void check_store_kind(struct parser *p, const struct config_store *s, const struct meta *m,
                             const char *label)
{
    static const char *const local_only[] = {"mode", "group"};
    static const char *const smb_only[] = {"credentials-file", "kerberos", "encrypt", "guest"};
    int smb = s->location && store_location_kind(s->location) == STORE_LOCATION_SMB;
    const char *const *keys = smb ? local_only : smb_only;
    size_t n = smb ? COUNT(local_only) : COUNT(smb_only);

    if (!s->location)
        return;
    for (size_t k = 0; k < n; k++) {
        int line = seen_line(m, SEC_STORE, keys[k]);
        if (line && smb)
            add_error(p, line, "%s: %s applies to a local directory only (location is an SMB "
                               "share, whose own permissions apply)",
                      label, keys[k]);
        else if (line)
            add_error(p, line, "%s: %s applies to an SMB share only (location is a local "
                               "directory)",
                      label, keys[k]);
    }
    if (smb && (s->kerberos + s->guest + (s->credentials_file != NULL)) > 1)
        add_error(p, good_line(m, SEC_STORE, "guest") ? good_line(m, SEC_STORE, "guest")
                                                      : s->where.line,
                  "%s: give one of credentials-file, kerberos = yes and guest = yes", label);
}

static void finish_stores(struct parser *p)
{
    for (size_t i = 0; i < p->cfg->store_count; i++) {
        const struct config_store *s = &p->cfg->stores[i];
        char label[sizeof(p->label)];

        snprintf(label, sizeof(label), "[store \"%s\"]", s->name);
        require(p, &p->store_meta[i], SEC_STORE, label, s->where.line, "location");
        require(p, &p->store_meta[i], SEC_STORE, label, s->where.line, "password-file");
        check_store_kind(p, s, &p->store_meta[i], label);
    }
}

/* Keys of a certificate that belong to the other challenge type (or that webroot makes moot):
 * set, they would be silently ignored, so they are errors. */
static void check_challenge_keys(struct parser *p, const struct config_certificate *c,
                                 const struct meta *m, const char *label, int dns)
{
    static const char *const http_keys[] = {"webroot", "http-port", "http-listen"};
    static const char *const dns_keys[] = {"hook", "hook-timeout"};
    static const char *const responder_keys[] = {"http-port", "http-listen"};
    int line;

    for (size_t i = 0; dns && i < COUNT(http_keys); i++)
        if ((line = seen_line(m, SEC_CERTIFICATE, http_keys[i])))
            add_error(p, line, "%s applies to challenge http-01; %s uses dns-01", http_keys[i],
                      label);
    for (size_t i = 0; !dns && i < COUNT(dns_keys); i++)
        if ((line = seen_line(m, SEC_CERTIFICATE, dns_keys[i])))
            add_error(p, line, "%s applies to challenge dns-01; %s uses http-01", dns_keys[i],
                      label);
    for (size_t i = 0; !dns && c->webroot && i < COUNT(responder_keys); i++)
        if ((line = seen_line(m, SEC_CERTIFICATE, responder_keys[i])))
            add_error(p, line,
                      "%s configures the built-in http-01 responder, which webroot replaces in "
                      "%s",
                      responder_keys[i], label);
    if (dns && !seen_line(m, SEC_CERTIFICATE, "hook"))
        add_error(p, c->where.line, "missing key \"hook\" in %s (dns-01 needs a hook)", label);
}

/* Wildcards can only be proven by dns-01 (RFC 8555 §7.1.3), IP addresses not by dns-01
 * (RFC 8738 §7). */
static void check_domains(struct parser *p, const struct config_certificate *c,
                          const struct meta *m, int dns)
{
    for (size_t i = 0; i < c->domain_count; i++) {
        const char *d = c->domains[i];
        if (store_name_is_ip_literal(d, strlen(d))) {
            if (dns)
                add_error(p, domain_line(m, i),
                          "domain \"%s\" is an IP address, which dns-01 cannot prove: use "
                          "challenge = http-01",
                          d);
        } else if (d[0] == '*' && !dns) {
            add_error(p, domain_line(m, i),
                      "domain \"%s\" is a wildcard, which only dns-01 can prove: set "
                      "challenge = dns-01 and a hook",
                      d);
        }
    }
}

static void finish_certificates(struct parser *p)
{
    struct config *cfg = p->cfg;

    for (size_t i = 0; i < cfg->certificate_count; i++) {
        struct config_certificate *c = &cfg->certificates[i];
        const struct meta *m = &p->certificate_meta[i];
        char label[sizeof(p->label)];
        int dns;

        snprintf(label, sizeof(label), "[certificate \"%s\"]", c->name);
        require(p, m, SEC_CERTIFICATE, label, c->where.line, "domains");
        if (set_default(p, &c->challenge, challenge_names[0]) < 0)
            continue;
        if (!seen_line(m, SEC_CERTIFICATE, "http-port"))
            c->http_port = cfg->http_port;
        if (!seen_line(m, SEC_CERTIFICATE, "key-type"))
            c->key_type = cfg->key_type;
        resolve_policy(p, m, SEC_CERTIFICATE, label, &c->policy, &cfg->policy);
        dns = strcmp(c->challenge, "dns-01") == 0;
        if (seen_line(m, SEC_CERTIFICATE, "challenge") &&
            !good_line(m, SEC_CERTIFICATE, "challenge"))
            continue; /* reported; which keys belong is unknown */
        check_challenge_keys(p, c, m, label, dns);
        check_domains(p, c, m, dns);
    }
}

/* " (did you mean \"NAME\"?)" for a suggestion, or nothing. */
static const char *hint(const struct suggestion *s, char *buf, size_t size)
{
    if (s->best)
        snprintf(buf, size, " (did you mean \"%s\"?)", s->best);
    else
        buf[0] = '\0';
    return buf;
}

/* The certificate's meta (C is one of cfg->certificates). */
static struct meta *certificate_meta(struct parser *p, const struct config_certificate *c)
{
    return &p->certificate_meta[c - p->cfg->certificates];
}

/* One pass over the tasks: what each certificate's deploy-ccs tasks say, for the checks and the
 * machine copies that ask it per certificate (a scan of every task per certificate made a config
 * of N certificates cost N^2). */
static void link_tasks(struct parser *p)
{
    const struct config *cfg = p->cfg;

    for (size_t i = 0; i < cfg->task_count; i++) {
        const struct config_task *t = &cfg->tasks[i];
        const struct config_certificate *c = config_find_certificate(cfg, t->certificate);
        struct meta *m;

        if (!c || t->type != TASK_DEPLOY_CCS || !t->store)
            continue;
        m = certificate_meta(p, c);
        if (!m->first_deploy)
            m->first_deploy = i + 1;
        if (config_find_store(cfg, t->store))
            m->has_deploy_store = 1;
    }
}

static void check_task_store(struct parser *p, const struct config_task *t, const struct meta *m,
                             const char *label)
{
    const struct config *cfg = p->cfg;
    int line = good_line(m, SEC_TASK, "store");
    struct suggestion s = {NULL, 0};
    char buf[CONFIG_NAME_MAX + 32];

    require(p, m, SEC_TASK, label, t->where.line, "store");
    if (!line || config_find_store(cfg, t->store) || errors_full(p))
        return;
    for (size_t i = 0; i < cfg->store_count; i++)
        suggest_consider(&s, t->store, cfg->stores[i].name);
    add_error(p, line, "%s names store \"%s\", but there is no [store \"%s\"]%s", label, t->store,
              t->store, hint(&s, buf, sizeof(buf)));
}

static void check_export(struct parser *p, const struct config_task *t, const struct meta *m,
                         const char *label)
{
    const struct config_certificate *c = config_find_certificate(p->cfg, t->certificate);
    int any = 0, pfx = seen_line(m, SEC_TASK, "pfx");

    for (size_t i = 0; i < COUNT(export_path_keys); i++)
        any |= seen_line(m, SEC_TASK, export_path_keys[i]) != 0;
    if (!any)
        add_error(p, t->where.line,
                  "%s is an export task without anything to export: set at least one of cert, "
                  "chain, fullchain, key, pfx",
                  label);
    if (pfx && c && !t->pfx_password_file && !seen_line(m, SEC_TASK, "pfx-password-file") &&
        !c->pfx_password_file && !certificate_meta(p, c)->has_deploy_store)
        add_error(p, pfx,
                  "pfx in %s needs a password: set pfx-password-file here or in [certificate "
                  "\"%s\"], or give the certificate a deploy-ccs task",
                  label, c->name);
}

/* Keys that belong to another task type would be silently ignored: errors. */
static void check_type_keys(struct parser *p, const struct config_task *t, const struct meta *m,
                            const char *label)
{
    for (size_t k = 0; k < COUNT(task_keys); k++) {
        unsigned types = task_keys[k].task_types;
        int owner = 0; /* each type-specific key belongs to one type */

        if (!types || (types & ONLY(t->type)) || !key_line(m, (int)k))
            continue;
        while (owner < (int)COUNT(task_type_names) && !(types & ONLY(owner)))
            owner++;
        add_error(p, key_line(m, (int)k), "key \"%s\" in %s applies to %s tasks, not %s",
                  task_keys[k].name, label, task_type_name((enum task_type)owner),
                  task_type_name(t->type));
    }
}

static void check_task_certificate(struct parser *p, const struct config_task *t, const char *label)
{
    const struct config *cfg = p->cfg;
    struct suggestion s = {NULL, 0};
    char buf[CONFIG_NAME_MAX + 32];

    if (config_find_certificate(cfg, t->certificate) || errors_full(p))
        return;
    for (size_t c = 0; c < cfg->certificate_count; c++)
        suggest_consider(&s, t->certificate, cfg->certificates[c].name);
    add_error(p, t->where.line,
              "%s belongs to certificate \"%s\", but there is no [certificate \"%s\"]%s", label,
              t->certificate, t->certificate, hint(&s, buf, sizeof(buf)));
}

static void finish_tasks(struct parser *p)
{
    const struct config *cfg = p->cfg;

    for (size_t i = 0; i < cfg->task_count; i++) {
        const struct config_task *t = &cfg->tasks[i];
        const struct meta *m = &p->task_meta[i];
        char label[sizeof(p->label)];

        snprintf(label, sizeof(label), "[task \"%s.%s\"]", t->certificate, t->name);
        check_task_certificate(p, t, label);
        require(p, m, SEC_TASK, label, t->where.line, "type");
        if (!good_line(m, SEC_TASK, "type"))
            continue;
        check_type_keys(p, t, m, label);
        if (t->type == TASK_DEPLOY_CCS)
            check_task_store(p, t, m, label);
        else if (t->type == TASK_EXPORT)
            check_export(p, t, m, label);
        else
            require(p, m, SEC_TASK, label, t->where.line, "program");
    }
}

/* ---- the machine copy: an export task the configuration implies ------------------------------ */

/* The PFX password of a certificate's machine copy: its own pfx-password-file, else the password
 * file of the store of its first deploy-ccs task (as config.h has it for a PFX); NULL: none, and
 * the copy has no cert.pfx. */
static const char *live_copy_pfx_password(struct parser *p, const struct config_certificate *c)
{
    size_t first = certificate_meta(p, c)->first_deploy;
    const struct config_store *s;

    if (c->pfx_password_file)
        return c->pfx_password_file;
    if (!first)
        return NULL;
    s = config_find_store(p->cfg, p->cfg->tasks[first - 1].store);
    return s ? s->password_file : NULL;
}

/* Whether this process may give its files to group GID (root, or a member). */
static int may_give_group(gid_t gid)
{
    gid_t groups[NGROUPS_MAX + 1];
    int n;

    if (geteuid() == 0 || getegid() == gid)
        return 1;
    n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

/* "DIR/NAME", allocated (flags out of memory). */
static char *path_join(struct parser *p, const char *dir, const char *name)
{
    char *out = NULL;

    if (asprintf(&out, "%s/%s", dir, name) < 0) {
        p->out_of_memory = 1;
        return NULL;
    }
    return out;
}

/* Fill T as the machine copy of C (LIVE_COPY_TASK in config.h). */
static void make_live_copy(struct parser *p, const struct config_certificate *c,
                           struct config_task *t)
{
    const struct config *cfg = p->cfg;
    const char *pfx_password = live_copy_pfx_password(p, c);
    const struct group *g = getgrnam(LIVE_COPY_KEY_GROUP);
    char *dir = path_join(p, cfg->live_dir, c->name);

    memset(t, 0, sizeof(*t));
    t->name = dup_or_flag(p, LIVE_COPY_TASK);
    t->certificate = dup_or_flag(p, c->name);
    t->where = c->where;
    t->type = TASK_EXPORT;
    t->phase = TASK_PHASE_POST;
    t->trigger = TRIGGER_ON_SUCCESS;
    t->timeout_s = CONFIG_DEFAULT_SCRIPT_TIMEOUT_S;
    t->implied = 1;
    t->dir_mode = LIVE_COPY_DIR_MODE;
    if (!dir)
        return;
    t->cert_path = path_join(p, dir, "cert.pem");
    t->chain_path = path_join(p, dir, "chain.pem");
    t->fullchain_path = path_join(p, dir, "fullchain.pem");
    t->key_path = path_join(p, dir, "privkey.pem");
    if (pfx_password) {
        t->pfx_path = path_join(p, dir, "cert.pfx");
        t->pfx_password_file = dup_or_flag(p, pfx_password);
    }
    if (g && may_give_group(g->gr_gid))
        t->group = dup_or_flag(p, LIVE_COPY_KEY_GROUP);
    free(dir);
}

/* Every store-only certificate gets its machine copy, placed before the tasks of the file (the
 * copy is part of installing the certificate, and tasks run in array order). A task of the file
 * with the reserved name would be ambiguous: an error. */
static void add_live_copies(struct parser *p)
{
    struct config *cfg = p->cfg;
    struct config_task *tasks;
    size_t n = 0, k = 0;

    for (size_t i = 0; i < cfg->certificate_count; i++)
        n += cfg->certificates[i].deployment == DEPLOYMENT_STORE_ONLY;
    for (size_t i = 0; i < cfg->task_count; i++) {
        const struct config_certificate *c = config_find_certificate(cfg, cfg->tasks[i].certificate);
        if (c && c->deployment == DEPLOYMENT_STORE_ONLY &&
            strcmp(cfg->tasks[i].name, LIVE_COPY_TASK) == 0)
            add_error(p, cfg->tasks[i].where.line,
                      "[task \"%s.%s\"]: the name %s is taken by the machine copy that "
                      "deployment = store-only implies for certificate %s: rename the task",
                      c->name, LIVE_COPY_TASK, LIVE_COPY_TASK, c->name);
    }
    if (n == 0)
        return;
    tasks = calloc(cfg->task_count + n, sizeof(*tasks));
    if (!tasks) {
        p->out_of_memory = 1;
        return;
    }
    for (size_t i = 0; i < cfg->certificate_count; i++)
        if (cfg->certificates[i].deployment == DEPLOYMENT_STORE_ONLY)
            make_live_copy(p, &cfg->certificates[i], &tasks[k++]);
    if (cfg->task_count)
        memcpy(tasks + k, cfg->tasks, cfg->task_count * sizeof(*tasks));
    free(cfg->tasks);
    cfg->tasks = tasks;
    cfg->task_count += n;
}

/* ---- [serve] and [site]: cross-references ------------------------------------------------- */

/* Every host is routed by one section only. */
static void check_host_owner(struct parser *p, const char *host, int line, const char *label,
                             const struct config_strings *before, const char *before_label)
{
    for (size_t i = 0; i < before->count; i++)
        if (strcmp(before->items[i], host) == 0)
            add_error(p, line, "host \"%s\" in %s is already listed in %s (line %d)", host, label,
                      before_label, before->lines[i]);
}

static void finish_serve(struct parser *p)
{
    const struct config *cfg = p->cfg;
    const struct config_serve *sv = cfg->serve;
    const struct meta *m = &p->serve_meta;
    struct suggestion s = {NULL, 0};
    char buf[CONFIG_NAME_MAX + 32];
    int line;

    if (!sv) {
        if (cfg->site_count)
            add_error(p, cfg->sites[0].where.line,
                      "[site \"%s\"] needs a [serve] section (listen, store, backend)",
                      cfg->sites[0].name);
        return;
    }
    require(p, m, SEC_SERVE, "[serve]", sv->where.line, "listen");
    require(p, m, SEC_SERVE, "[serve]", sv->where.line, "store");
    require(p, m, SEC_SERVE, "[serve]", sv->where.line, "backend");
    line = good_line(m, SEC_SERVE, "store");
    if (line && !config_find_store(cfg, sv->store)) {
        for (size_t i = 0; i < cfg->store_count; i++)
            suggest_consider(&s, sv->store, cfg->stores[i].name);
        add_error(p, line, "[serve] names store \"%s\", but there is no [store \"%s\"]%s",
                  sv->store, sv->store, hint(&s, buf, sizeof(buf)));
    }
}

static void finish_sites(struct parser *p)
{
    const struct config *cfg = p->cfg;
    char label[sizeof(p->label)], other[sizeof(p->label)];

    for (size_t i = 0; i < cfg->site_count; i++) {
        struct config_site *site = &cfg->sites[i];
        const struct meta *m = &p->site_meta[i];

        snprintf(label, sizeof(label), "[site \"%s\"]", site->name);
        require(p, m, SEC_SITE, label, site->where.line, "hosts");
        require(p, m, SEC_SITE, label, site->where.line, "backend");
        site->proxy_protocol_set = seen_line(m, SEC_SITE, "proxy-protocol") != 0;
        if (!site->proxy_protocol_set && cfg->serve)
            site->proxy_protocol = cfg->serve->proxy_protocol;
        for (size_t h = 0; h < site->hosts.count; h++) {
            if (cfg->serve)
                check_host_owner(p, site->hosts.items[h], site->hosts.lines[h], label,
                                 &cfg->serve->hosts, "[serve]");
            for (size_t j = 0; j < i; j++) {
                snprintf(other, sizeof(other), "[site \"%s\"]", cfg->sites[j].name);
                check_host_owner(p, site->hosts.items[h], site->hosts.lines[h], label,
                                 &cfg->sites[j].hosts, other);
            }
        }
    }
}

/* ---- loading ----------------------------------------------------------------------------- */

/* The config file's directory, absolute. */
static void config_dir(const char *path, char *out, size_t size)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (size >= PATH_MAX && realpath(dir, out))
        return;
    snprintf(out, size, "%s", dir);
}

/* Errors in line order (line 0, about the whole file, first); stable, so errors on one line keep
 * the order they were found in. Insertion sort: there are at most CONFIG_ERRORS_MAX. */
static void sort_errors(struct config_errors *e)
{
    for (size_t i = 1; i < e->count; i++) {
        struct config_error item = e->items[i];
        size_t j = i;
        while (j > 0 && e->items[j - 1].where.line > item.where.line) {
            e->items[j] = e->items[j - 1];
            j--;
        }
        e->items[j] = item;
    }
}

/* "a FIFO", "a directory"...: what a path that is not a regular file is, for the message. */
static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Open the configuration, a regular file, without opening anything else: a FIFO would block the
 * open until some writer came, and opening a device can act on it (a tape rewinds). So the path
 * is looked at first, then opened with O_NONBLOCK and O_NOCTTY and looked at again through the
 * descriptor (it may have been swapped in between). NULL (error added) when it is not one. */
static FILE *open_config(struct parser *p, const char *path)
{
    struct stat st;
    FILE *fp;
    int fd;

    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        add_error(p, 0, "not a regular file (%s): refused, not read", file_kind(st.st_mode));
        return NULL;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        add_error(p, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0) < 0 ||
        !(fp = fdopen(fd, "r"))) {
        add_error(p, 0, "not a regular file (%s): refused, not read", file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    return fp;
}

static void parse_file(struct parser *p)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    for (;;) {
        errno = 0;
        if ((len = getline(&line, &cap, p->fp)) < 0)
            break;
        p->line++;
        parse_line(p, line, (size_t)len);
    }
    if (ferror(p->fp))
        add_error(p, p->line + 1, "cannot read: %s", strerror(errno));
    else if (errno == ENOMEM)
        p->out_of_memory = 1;
    free(line);
}

static void free_metas(struct parser *p)
{
    for (size_t i = 0; i < p->task_key_count; i++)
        free(p->task_keys[i]);
    free(p->task_keys);
    strmap_free(&p->task_names);
    for (size_t i = 0; i < p->cfg->store_count; i++)
        free(p->store_meta[i].seen);
    for (size_t i = 0; i < p->cfg->certificate_count; i++)
        free(p->certificate_meta[i].seen);
    for (size_t i = 0; i < p->file_tasks; i++)
        free(p->task_meta[i].seen);
    for (size_t i = 0; i < p->cfg->site_count; i++)
        free(p->site_meta[i].seen);
    free(p->domain_keys);
    free(p->ccs_meta.seen);
    free(p->serve_meta.seen);
    free(p->store_meta);
    free(p->certificate_meta);
    free(p->task_meta);
    free(p->site_meta);
}

int config_load(const char *path, struct config *out, struct config_errors *errors)
{
    struct parser p = {.cfg = out, .errors = errors, .file = path, .kind = SEC_NONE};

    memset(out, 0, sizeof(*out));
    memset(errors, 0, sizeof(*errors));
    errors->file = dup_or_flag(&p, path);
    out->path = dup_or_flag(&p, path);
    out->index = calloc(1, sizeof(*out->index));
    if (!errors->file || !out->path || !out->index) {
        p.out_of_memory = 1;
        add_error(&p, 0, "out of memory");
        config_free(out);
        return -1;
    }
    out->key_type = KEY_TYPE_DEFAULT;
    out->policy.mode = RENEWAL_PERCENT_OF_LIFETIME;
    out->policy.value = RENEWAL_DEFAULT_PERCENT;
    out->http_port = CONFIG_DEFAULT_HTTP_PORT;
    config_dir(path, p.dir, sizeof(p.dir));

    p.fp = open_config(&p, path);
    if (p.fp) {
        parse_file(&p);
        p.file_tasks = out->task_count;
        fclose(p.fp);
        finish_ccs(&p);
        finish_stores(&p);
        finish_certificates(&p);
        link_tasks(&p);
        finish_tasks(&p);
        add_live_copies(&p);
        finish_serve(&p);
        finish_sites(&p);
    }
    free_metas(&p);
    p.closing = 1;
    if (p.errors_dropped)
        add_error(&p, 0, "more than %d errors: only the first %d are listed", CONFIG_ERRORS_MAX,
                  CONFIG_ERRORS_MAX);
    if (p.out_of_memory)
        add_error(&p, 0, "out of memory");
    sort_errors(errors);
    if (errors->count == 0 && !p.out_of_memory) {
        config_errors_free(errors); /* its file: no error names it */
        return 0;
    }
    config_free(out);
    return -1;
}

static void config_strings_free(struct config_strings *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    free(list->lines);
    memset(list, 0, sizeof(*list));
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->state_dir);
    free(cfg->server);
    free(cfg->ca_bundle);
    free(cfg->eab_kid);
    free(cfg->eab_hmac_file);
    free(cfg->live_dir);
    for (size_t i = 0; i < cfg->contact_count; i++)
        free(cfg->contact[i]);
    free(cfg->contact);
    for (size_t i = 0; i < cfg->store_count; i++) {
        struct config_store *s = &cfg->stores[i];
        free(s->name);
        free(s->location);
        free(s->password_file);
        free(s->group);
        free(s->credentials_file);
    }
    free(cfg->stores);
    for (size_t i = 0; i < cfg->certificate_count; i++) {
        struct config_certificate *c = &cfg->certificates[i];
        for (size_t d = 0; d < c->domain_count; d++)
            free(c->domains[d]);
        free(c->domains);
        free(c->name);
        free(c->challenge);
        free(c->webroot);
        free(c->hook);
        free(c->http_listen);
        free(c->profile);
        free(c->preferred_chain);
        free(c->pfx_password_file);
    }
    free(cfg->certificates);
    for (size_t i = 0; i < cfg->task_count; i++) {
        struct config_task *t = &cfg->tasks[i];
        free(t->name);
        free(t->certificate);
        free(t->store);
        free(t->cert_path);
        free(t->chain_path);
        free(t->fullchain_path);
        free(t->key_path);
        free(t->pfx_path);
        free(t->pfx_password_file);
        free(t->owner);
        free(t->group);
        free(t->program);
    }
    free(cfg->tasks);
    if (cfg->serve) {
        struct config_serve *sv = cfg->serve;
        config_strings_free(&sv->listen);
        config_strings_free(&sv->hosts);
        config_strings_free(&sv->alpn);
        free(sv->store);
        free(sv->backend);
        free(sv->default_certificate);
        free(sv->ciphers);
        free(sv->ciphersuites);
        free(sv->user);
        free(sv->admin);
        free(sv);
    }
    for (size_t i = 0; i < cfg->site_count; i++) {
        config_strings_free(&cfg->sites[i].hosts);
        free(cfg->sites[i].name);
        free(cfg->sites[i].backend);
    }
    free(cfg->sites);
    if (cfg->index) {
        strmap_free(&cfg->index->certificates);
        strmap_free(&cfg->index->stores);
        free(cfg->index);
    }
    memset(cfg, 0, sizeof(*cfg));
}

void config_errors_free(struct config_errors *errors)
{
    if (!errors)
        return;
    free(errors->items);
    free(errors->file);
    errors->items = NULL;
    errors->file = NULL;
    errors->count = 0;
}

const struct config_store *config_find_store(const struct config *cfg, const char *name)
{
    size_t i;

    if (cfg && name && cfg->index)
        return strmap_get(&cfg->index->stores, name, &i) ? &cfg->stores[i] : NULL;
    for (i = 0; cfg && name && i < cfg->store_count; i++)
        if (cfg->stores[i].name && strcmp(cfg->stores[i].name, name) == 0)
            return &cfg->stores[i];
    return NULL;
}

const struct config_certificate *config_find_certificate(const struct config *cfg, const char *name)
{
    size_t i;

    if (cfg && name && cfg->index)
        return strmap_get(&cfg->index->certificates, name, &i) ? &cfg->certificates[i] : NULL;
    for (i = 0; cfg && name && i < cfg->certificate_count; i++)
        if (cfg->certificates[i].name && strcmp(cfg->certificates[i].name, name) == 0)
            return &cfg->certificates[i];
    return NULL;
}
