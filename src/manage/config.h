/* config.h — the administrator's declaration of managed certificates, stores and tasks
 * (/etc/ccs/ccs.conf by default; an INI file, read by config_read.c without an INI library).
 *
 *   [ccs]                  state-dir, server, ca-bundle, contact, agree-tos, eab-kid,
 *                          eab-hmac-file, key-type, renewal-mode, renewal-value, http-port,
 *                          live-dir
 *   [store "NAME"]         location, password-file, format, mode, group
 *   [certificate "NAME"]   domains, challenge, webroot, hook, hook-timeout, http-port,
 *                          http-listen, key-type, reuse-key, profile, preferred-chain,
 *                          renewal-mode, renewal-value, deployment, pfx-password-file
 *   [task "CERT.TASK"]     type, phase, trigger, fatal, run-if-previous-failed, and the type's
 *                          own keys: store (deploy-ccs); cert, chain, fullchain, key, pfx,
 *                          pfx-password-file, mode, owner, group (export); program, timeout
 *                          (script)
 *   [serve]                listen, store, backend, default-certificate, hosts, min-tls-version,
 *                          ciphers, ciphersuites, alpn, proxy-protocol, handshake-timeout,
 *                          idle-timeout, drain-timeout, max-connections, workers, user, admin
 *   [site "NAME"]          hosts, backend, proxy-protocol
 *
 * Every error is reported with its file and line, and loading goes on to find them all; unknown
 * sections and keys are errors (a typo must not silently disable a task). Secrets are file
 * references only: there is no key that takes a password itself. */
#ifndef CCS_MANAGE_CONFIG_H
#define CCS_MANAGE_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "acme/key.h"
#include "store/pfx.h"

#define CONFIG_DEFAULT_PATH "/etc/ccs/ccs.conf"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/ccs"
#define CONFIG_DEFAULT_LIVE_DIR "/etc/ccs/live"
#define CONFIG_DEFAULT_SERVER "https://acme-v02.api.letsencrypt.org/directory"
#define CONFIG_DEFAULT_HTTP_PORT 80
#define CONFIG_DEFAULT_HOOK_TIMEOUT_S 120
#define CONFIG_DEFAULT_SCRIPT_TIMEOUT_S 300
#define RENEWAL_DEFAULT_PERCENT 75.0 /* Certify's default (field notes §2) */

enum renewal_mode {
    RENEWAL_PERCENT_OF_LIFETIME, /* "percent": renew when VALUE % of the lifetime has passed */
    RENEWAL_DAYS_BEFORE_EXPIRY,  /* "days-before-expiry" */
    RENEWAL_DAYS_AFTER_RENEWAL,  /* "days-after-renewal" */
};

struct renewal_policy {
    enum renewal_mode mode;
    double value;
};

enum deployment_mode {
    DEPLOYMENT_NONE,       /* "no-deployment": the certificate lives in ccs's state; tasks deliver it */
    DEPLOYMENT_STORE_ONLY, /* "store-only": also a machine copy under live-dir/NAME/, by the
                            * export task the configuration implies (LIVE_COPY_TASK) */
};

enum task_type { TASK_DEPLOY_CCS, TASK_EXPORT, TASK_SCRIPT };
enum task_phase { TASK_PHASE_PRE, TASK_PHASE_POST };
enum task_trigger { TRIGGER_ON_SUCCESS, TRIGGER_ON_ERROR, TRIGGER_ANY, TRIGGER_MANUAL };

const char *renewal_mode_name(enum renewal_mode m);
const char *deployment_mode_name(enum deployment_mode m);
const char *task_type_name(enum task_type t);
const char *task_phase_name(enum task_phase p);
const char *task_trigger_name(enum task_trigger t);

/* Where a section or an error comes from. FILE is shared, not copied per section (a copy of
 * PATH_MAX octets in every section was most of a certificate's memory, issue 11): a section's
 * points at its config's path, an error's at its config_errors' file; valid as long as those. */
struct config_where {
    const char *file;
    int line;
};

struct config_store {
    char *name;
    struct config_where where;
    char *location;      /* required: a local directory, or an SMB share (\\server\share\dir,
                            //server/share/dir, smb://server[:port]/share/dir) */
    char *password_file; /* required */
    enum pfx_format format;
    unsigned mode;       /* default 0640; a share has none (its own permissions apply) */
    char *group;         /* NULL: unchanged */
    /* SMB shares only (store_smb_options): */
    char *credentials_file; /* Samba credentials file; NULL: the systemd credential, if any */
    int kerberos, encrypt, guest;
};

struct config_certificate {
    char *name;
    struct config_where where;
    char **domains; /* required, at least one */
    size_t domain_count;
    char *challenge; /* "http-01" (default) or "dns-01" */
    char *webroot;   /* http-01 by webroot; else the built-in responder */
    char *hook;      /* dns-01: required */
    int hook_timeout_s;
    int http_port; /* default: [ccs] http-port */
    char *http_listen;
    enum key_type key_type; /* default: [ccs] key-type */
    int reuse_key;
    char *profile;
    char *preferred_chain;
    struct renewal_policy policy; /* default: [ccs] renewal-* */
    enum deployment_mode deployment; /* default no-deployment */
    char *pfx_password_file;         /* NULL: the password of the store of its first deploy-ccs task */
};

struct config_task {
    char *name;        /* "ccs" in [task "www.ccs"] */
    char *certificate; /* "www": the part before the last dot; must name a [certificate] */
    struct config_where where;
    enum task_type type; /* required */
    enum task_phase phase;     /* default post */
    enum task_trigger trigger; /* default on-success */
    int fatal;                 /* default no */
    int run_if_previous_failed;
    /* deploy-ccs */
    char *store; /* required: names a [store] */
    /* export: at least one of the paths */
    char *cert_path, *chain_path, *fullchain_path, *key_path, *pfx_path;
    char *pfx_password_file; /* for pfx_path; default: the certificate's */
    unsigned mode;           /* default 0640 (keys and PFX), files */
    char *owner, *group;     /* NULL: unchanged */
    /* script */
    char *program; /* required: an executable path */
    int timeout_s;
    /* set by config_check.c only, for a task the configuration implies */
    int implied;       /* not written in the file: the store-only machine copy. Its strings are
                        * not its own: name and group are constants, certificate and
                        * pfx_password_file the certificate's or the store's strings, and its
                        * paths one allocation at cert_path, which config_free frees; change
                        * none of them in place */
    unsigned dir_mode; /* export: make missing parent directories with this mode (0: they must
                        * exist, as for a task of the file) */
};

/* deployment = store-only implies, for its certificate, an export task of this name into
 * live-dir/NAME/ (cert.pem, chain.pem, fullchain.pem, privkey.pem; cert.pfx when a PFX password is
 * known), placed before the certificate's own tasks: one path for every file ccs writes outside
 * its state and the stores, owed like any task until it has delivered the live certificate. */
#define LIVE_COPY_TASK "live-dir"
/* Its key and PFX go to this group when the system has it (Debian's ssl-cert package). */
#define LIVE_COPY_KEY_GROUP "ssl-cert"

/* ---- [serve] and [site "NAME"]: `ccs serve`, the TLS terminator (man ccs-serve(1)) ---------- */

#define SERVE_DEFAULT_HANDSHAKE_TIMEOUT_S 10 /* a client that has not said hello in 10 s is gone */
#define SERVE_DEFAULT_IDLE_TIMEOUT_S 300    /* hitch's and stunnel's idle defaults are minutes */
#define SERVE_DEFAULT_DRAIN_TIMEOUT_S 30    /* after SIGTERM: systemd's TimeoutStopSec is 90 s */
#define SERVE_DEFAULT_MAX_CONNECTIONS 10000
#define SERVE_WORKERS_MAX 256
#define SERVE_CONNECTIONS_MAX 1000000
/* "reject" as default-certificate: clients without a certificate of their own get an alert. */
#define SERVE_DEFAULT_CERTIFICATE_REJECT "reject"

enum proxy_protocol_mode { PROXY_PROTOCOL_OFF, PROXY_PROTOCOL_V1, PROXY_PROTOCOL_V2 };
const char *proxy_protocol_mode_name(enum proxy_protocol_mode m);

/* Values of a list key, with the line each came from (for messages about duplicates). */
struct config_strings {
    char **items;
    int *lines;
    size_t count;
};

struct config_serve {
    struct config_where where;
    struct config_strings listen; /* required: "ADDR:PORT", IPv4 or [IPv6] literal */
    char *store;                  /* required: names a [store] */
    char *backend;                /* required: "HOST:PORT", "[IPv6]:PORT" or "/path/of.sock" */
    char *default_certificate;    /* a host name in the store, or "reject" (the default) */
    struct config_strings hosts;  /* names `ccs serve --check` checks for the default backend */
    int min_tls_version;          /* TLS1_2_VERSION (default) or TLS1_3_VERSION */
    char *ciphers;                /* TLS 1.2 cipher list; NULL: ccs's default */
    char *ciphersuites;           /* TLS 1.3 suites; NULL: OpenSSL's default */
    struct config_strings alpn;   /* protocols offered, in preference order; none by default */
    enum proxy_protocol_mode proxy_protocol;
    int handshake_timeout_s, idle_timeout_s, drain_timeout_s;
    int max_connections;
    int workers;  /* 0: one per CPU the process may run on */
    char *user;   /* NULL: stay who started it */
    char *admin;  /* "ADDR:PORT" of /metrics and /healthz; NULL: none */
};

struct config_site {
    char *name;
    struct config_where where;
    struct config_strings hosts; /* required: host names or "*.parent" (one label) */
    char *backend;               /* required, as [serve] backend */
    enum proxy_protocol_mode proxy_protocol;
    int proxy_protocol_set; /* else [serve]'s */
};

/* Lookups by name (config_parser.h): private; NULL in a config not made by config_load, which
 * config_find_* then search linearly. */
struct config_index;

struct config {
    char *path;
    char *state_dir, *server, *ca_bundle, *eab_kid, *eab_hmac_file, *live_dir;
    char **contact;
    size_t contact_count;
    int agree_tos;
    enum key_type key_type;
    struct renewal_policy policy;
    int http_port;
    struct config_store *stores;
    size_t store_count;
    struct config_certificate *certificates;
    size_t certificate_count;
    struct config_task *tasks; /* in file order: the order tasks run in */
    size_t task_count;
    struct config_serve *serve; /* NULL: no [serve] section */
    struct config_site *sites;
    size_t site_count;
    struct config_index *index;
};

struct config_error {
    struct config_where where; /* line 0: about the file as a whole */
    char message[512];
};

struct config_errors {
    struct config_error *items;
    size_t count;
    char *file; /* the items' where.file (owned) */
};

/* Load and validate PATH. Returns 0 when there is no error (OUT usable), -1 otherwise (every
 * error in ERRORS, OUT freed). Cross-references are checked: a task's certificate and store exist,
 * names are unique, domains are valid host names or IP addresses, numbers are in range, files
 * named by *-file keys exist and are regular (their content is not read). */
int config_load(const char *path, struct config *out, struct config_errors *errors);
void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errors);

/* The store or certificate of that name (the first, if a name was given twice), or NULL. One hash
 * lookup in a config from config_load, however many sections it has. */
const struct config_store *config_find_store(const struct config *cfg, const char *name);
const struct config_certificate *config_find_certificate(const struct config *cfg,
                                                         const char *name);

/* Split a listen or backend address "ADDR:PORT" (ADDR an IPv4 literal, an [IPv6] literal, or for
 * a backend a host name) into HOST and PORT. Fails, saying why in WHY, on anything else. */
int config_split_host_port(const char *value, int names_allowed, char *host, size_t host_size,
                           int *port, char *why, size_t why_size);

#endif
