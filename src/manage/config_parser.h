/* config_parser.h — what the files reading ccs.conf share; private to them (config.h is the
 * interface). One job per file:
 *   config_read.c    the lines: sections and KEY = VALUE (our own INI reader; its top says why)
 *   config_keys.c    the key tables (which keys each section has, of what kind), the names of the
 *                    enumerations, and "did you mean" for keys and sections (util/suggest, which
 *                    the command line's options share)
 *   config_values.c  what a value of each kind must be, stored into the section's struct
 *   config_check.c   after the last line: defaults, required keys, cross-references, the tasks
 *                    the configuration implies
 *   config.c         config_load, the error list and the per-section notes, freeing, lookups
 * Data flows one way: config_load → config_read (→ keys, values) → config_check. */
#ifndef CCS_MANAGE_CONFIG_PARSER_H
#define CCS_MANAGE_CONFIG_PARSER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "manage/config.h"
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

enum value_kind {
    V_TEXT,           /* any text without control characters */
    V_TOKEN,          /* text without white space */
    V_PATH,           /* a path, made absolute; not checked (it may be created later) */
    V_STORE_LOCATION, /* a V_PATH, or an SMB share's location (checked, kept as written) */
    V_FILE,           /* a path to an existing regular file, not read (secrets, the CA bundle) */
    V_PROGRAM,        /* a path to an existing executable regular file */
    V_URL,            /* an https:// URL (RFC 8555 §6.1: ACME is HTTPS only) */
    V_ADDRESS,        /* an IPv4 or IPv6 literal */
    V_ACCOUNT,        /* a user or group name, or a numeric id */
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

_Static_assert(SECTION_KEYS_MAX <= 32, "struct meta's key_bad is a 32-bit mask");

/* A key's first setting in a section, or (key SEEN_DOMAIN) one domain of a certificate. */
struct seen {
    int line;
    unsigned char key; /* index in the section's key table */
};
#define SEEN_DOMAIN UCHAR_MAX
/* The notes a section has room for at first (a power of two, for conf_grow_one's doubling). */
#define SEEN_FIRST 4
_Static_assert(SECTION_KEYS_MAX < SEEN_DOMAIN, "key indexes must not collide with SEEN_DOMAIN");

/* What the parse learnt about one section beyond its struct: where each key was set. Only what
 * was set is kept (a section sets two or three of its keys): a table of every key's line in
 * every section was a third of the memory a config of 100,000 certificates took to check. */
struct meta {
    struct seen *seen; /* in file order; capacity implied by seen_count (conf_grow_one) */
    uint32_t seen_count;
    uint32_t key_bad; /* bit K: key K set, but its value was refused (reported) */
    /* From one pass over the tasks (link_tasks), so that no check scans every task per
     * certificate. Indexes are 1 + the index (0: none) and fit 32 bits, as strmap's values do. */
    union {
        struct {
            uint32_t first_deploy;          /* its first deploy-ccs task naming a store */
            uint32_t last_task;             /* its last task so far */
            unsigned char has_deploy_store; /* a deploy-ccs task of it names a store that exists */
        } cert;
        struct {
            uint32_t certificate; /* its certificate */
            uint32_t prev_task;   /* the task of the same certificate before it */
        } task;
    } link;
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
    enum section_kind kind;               /* the current section */
    size_t index;                         /* its entity in the config's array */
    char label[2 * CONFIG_NAME_MAX + 32]; /* "[task \"www.ccs\"]", for messages */
    int ccs_line;
    struct meta ccs_meta;
    struct meta *store_meta, *certificate_meta, *task_meta; /* parallel to the config's arrays */
    int out_of_memory;
    int closing; /* adding the closing notes, which may exceed CONFIG_ERRORS_MAX */
    int serve_line;
    struct meta serve_meta;
    struct meta *site_meta; /* parallel to the config's sites */
    size_t file_tasks;      /* tasks of the file, with a task_meta each (implied ones come after) */
    /* The compared forms of the current certificate's domains so far, NUL-separated, for the
     * "listed twice" check: each domain is normalised once (IDNA is most of the parse's time). */
    char *domain_keys;
    size_t domain_keys_len, domain_keys_cap;
    size_t domain_keys_of; /* 1 + the index of the certificate they belong to; 0: none */
    /* "CERT.TASK" → task index, for duplicates among the tasks whose certificate does not exist
     * (the others are found through their certificate); the keys are task_keys */
    struct strmap task_names;
    struct strmap site_names; /* [site] name → index, for duplicates */
    struct strmap list_items; /* the items of one list key (config_values.c's list_index) */
    const struct config_strings *list_items_of; /* that list; NULL at each section header */
    char **task_keys;
    size_t task_key_count;
};

/* Room for conf_shown's output. */
#define SHOWN_BUF (SHOWN_MAX * 4 + 8)
/* The challenge of a certificate without a challenge key. */
#define CHALLENGE_DEFAULT "http-01"
/* The task types (enum task_type). */
#define TASK_TYPE_COUNT 3

/* The keys whose value is one of a fixed list of names, in enum order (the index is the value). */
struct choice {
    enum value_kind kind;
    const char *const *names;
    size_t count;
};

/* ---- config.c: the error list and the notes ----------------------------------------------- */

/* Report an error at LINE (0: the file as a whole), printf-style. */
void conf_error(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int conf_errors_full(struct parser *p);
char *conf_strdup(struct parser *p, const char *s);
int conf_grow_one(struct parser *p, void **items, size_t count, size_t size);
const char *conf_shown(const char *s, char *buf, size_t size);
int conf_key_line(const struct meta *m, int k);
int conf_add_seen(struct parser *p, struct meta *m, int key);
int conf_domain_line(const struct meta *m, size_t n);

/* ---- config_keys.c ----------------------------------------------------------------------- */

const struct section_def *conf_section_of(enum section_kind kind);
/* The section kind named KIND, or NULL with the closest kind in *S (for the message). */
const struct section_def *conf_section_named(const char *kind, struct suggestion *s);
int conf_key_index(const struct section_def *s, const char *name);
void conf_unknown_key(struct parser *p, const struct section_def *sec, const char *name);
const struct choice *conf_choice_of(enum value_kind kind);

/* ---- config_values.c --------------------------------------------------------------------- */

/* Parse VALUE for KEY into ENTITY's field. Reports and returns -1 on a bad value. */
int conf_set_value(struct parser *p, const struct key_def *key, void *entity, struct meta *m,
                   const char *value);

/* ---- config_read.c ----------------------------------------------------------------------- */

/* Open PATH (a regular file only) and read every line of it. -1 (reported) if it is not read. */
int conf_read(struct parser *p, const char *path);

/* ---- config_check.c ---------------------------------------------------------------------- */

/* After the last line: defaults, required keys, cross-references, implied tasks. */
void conf_check(struct parser *p);

#endif
