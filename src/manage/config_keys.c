/* config_keys.c — the key tables: which keys each section of ccs.conf has, of what kind (the
 * kinds are checked in config_values.c) and into which field; the names of the enumerations
 * (renewal modes, task types...); "did you mean" for keys and sections. Defaults are set where
 * a section opens (config_read.c) or after the last line (config_check.c). */
#include <string.h>

#include "manage/config_parser.h"

static const char *const renewal_mode_names[] = {"percent", "days-before-expiry",
                                                 "days-after-renewal"};
static const char *const deployment_names[] = {"no-deployment", "store-only"};
static const char *const task_type_names[] = {"deploy-ccs", "export", "script"};
static const char *const task_phase_names[] = {"pre", "post"};
static const char *const task_trigger_names[] = {"on-success", "on-error", "any", "manual"};
static const char *const challenge_names[] = {CHALLENGE_DEFAULT, "dns-01"};

_Static_assert(COUNT(task_type_names) == TASK_TYPE_COUNT, "TASK_TYPE_COUNT");

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

static const char *const proxy_protocol_names[] = {"off", "v1", "v2"};
static const char *const tls_version_names[] = {"1.2", "1.3"};

const char *proxy_protocol_mode_name(enum proxy_protocol_mode m)
{
    return name_in(proxy_protocol_names, COUNT(proxy_protocol_names), (int)m);
}

static const struct choice choices[] = {
    {V_RENEWAL_MODE, renewal_mode_names, COUNT(renewal_mode_names)},
    {V_DEPLOYMENT, deployment_names, COUNT(deployment_names)},
    {V_TASK_TYPE, task_type_names, COUNT(task_type_names)},
    {V_PHASE, task_phase_names, COUNT(task_phase_names)},
    {V_TRIGGER, task_trigger_names, COUNT(task_trigger_names)},
    {V_CHALLENGE, challenge_names, COUNT(challenge_names)},
    {V_TLS_VERSION, tls_version_names, COUNT(tls_version_names)},
    {V_PROXY_PROTOCOL, proxy_protocol_names, COUNT(proxy_protocol_names)},
};

const struct choice *conf_choice_of(enum value_kind kind)
{
    for (size_t n = 0; n < COUNT(choices); n++)
        if (choices[n].kind == kind)
            return &choices[n];
    return NULL;
}

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

static const struct section_def sections[] = {
    {"ccs", SEC_CCS, 0, ccs_keys, COUNT(ccs_keys)},
    {"store", SEC_STORE, 1, store_keys, COUNT(store_keys)},
    {"certificate", SEC_CERTIFICATE, 1, certificate_keys, COUNT(certificate_keys)},
    {"task", SEC_TASK, 1, task_keys, COUNT(task_keys)},
    {"serve", SEC_SERVE, 0, serve_keys, COUNT(serve_keys)},
    {"site", SEC_SITE, 1, site_keys, COUNT(site_keys)},
};

const struct section_def *conf_section_of(enum section_kind kind)
{
    for (size_t i = 0; i < COUNT(sections); i++)
        if (sections[i].kind == kind)
            return &sections[i];
    return NULL;
}

int conf_key_index(const struct section_def *s, const char *name)
{
    for (size_t i = 0; i < s->key_count; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct section_def *conf_section_named(const char *kind, struct suggestion *s)
{
    for (size_t i = 0; i < COUNT(sections); i++)
        if (strcmp(sections[i].name, kind) == 0)
            return &sections[i];
    for (size_t i = 0; i < COUNT(sections); i++) /* only for the message */
        suggest_consider(s, kind, sections[i].name);
    return NULL;
}

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

void conf_unknown_key(struct parser *p, const struct section_def *sec, const char *name)
{
    struct suggestion s = {NULL, 0};
    const char *file_key = secret_file_key(sec, name);
    char buf[SHOWN_BUF];

    conf_shown(name, buf, sizeof(buf));
    if (file_key) {
        conf_error(
            p, p->line,
            "unknown key \"%s\" in %s (did you mean \"%s\"? secrets are given as files only)", buf,
            p->label, file_key);
        return;
    }
    for (size_t i = 0; i < sec->key_count; i++)
        suggest_consider(&s, name, sec->keys[i].name);
    if (s.best)
        conf_error(p, p->line, "unknown key \"%s\" in %s (did you mean \"%s\"?)", buf, p->label,
                   s.best);
    else
        conf_error(p, p->line, "unknown key \"%s\" in %s", buf, p->label);
}
