/* config.h — the administrator's declaration of managed certificates, stores and tasks
 * (/etc/ccs/ccs.conf by default; INI read with inih).
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
    DEPLOYMENT_STORE_ONLY, /* "store-only": also a machine copy under live-dir/NAME/ */
};

enum task_type { TASK_DEPLOY_CCS, TASK_EXPORT, TASK_SCRIPT };
enum task_phase { TASK_PHASE_PRE, TASK_PHASE_POST };
enum task_trigger { TRIGGER_ON_SUCCESS, TRIGGER_ON_ERROR, TRIGGER_ANY, TRIGGER_MANUAL };

const char *renewal_mode_name(enum renewal_mode m);
const char *deployment_mode_name(enum deployment_mode m);
const char *task_type_name(enum task_type t);
const char *task_phase_name(enum task_phase p);
const char *task_trigger_name(enum task_trigger t);

struct config_where {
    char file[PATH_MAX];
    int line;
};

struct config_store {
    char *name;
    struct config_where where;
    char *location;      /* required: a local directory (SMB forms come later) */
    char *password_file; /* required */
    enum pfx_format format;
    unsigned mode;       /* default 0640 */
    char *group;         /* NULL: unchanged */
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
};

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
};

struct config_error {
    struct config_where where; /* line 0: about the file as a whole */
    char message[512];
};

struct config_errors {
    struct config_error *items;
    size_t count;
};

/* Load and validate PATH. Returns 0 when there is no error (OUT usable), -1 otherwise (every
 * error in ERRORS, OUT freed). Cross-references are checked: a task's certificate and store exist,
 * names are unique, domains are valid host names or IP addresses, numbers are in range, files
 * named by *-file keys exist and are regular (their content is not read). */
int config_load(const char *path, struct config *out, struct config_errors *errors);
void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errors);

const struct config_store *config_find_store(const struct config *cfg, const char *name);
const struct config_certificate *config_find_certificate(const struct config *cfg,
                                                         const char *name);

#endif
