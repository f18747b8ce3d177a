/* config_check.c — after the last line of ccs.conf: defaults that depend on other sections
 * ([ccs]'s), required keys, keys that do not belong together, the cross-references between
 * sections (a task's certificate and store, [serve]'s store, hosts routed twice), and the export
 * tasks the configuration implies (LIVE_COPY_TASK). Every lookup by name is a hash lookup
 * (config_find_*), and what the tasks say about each certificate is gathered in one pass
 * (link_tasks): linear in the number of sections. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manage/config_parser.h"
#include "manage/ids.h"
#include "store/names.h"
#include "store/smb_location.h"
#include "store/store.h"

/* The export task's outputs: at least one is required. */
static const char *const export_path_keys[] = {"cert", "chain", "fullchain", "key", "pfx"};

/* Line where NAME was set in a section described by M and SEC, if it was set with a good value;
 * else 0. */
static int good_line(const struct meta *m, enum section_kind kind, const char *name)
{
    int k = conf_key_index(conf_section_of(kind), name);
    return k >= 0 && !(m->key_bad & (UINT32_C(1) << k)) ? conf_key_line(m, k) : 0;
}

/* Line where NAME was set, good value or not; 0 if it was not. */
static int seen_line(const struct meta *m, enum section_kind kind, const char *name)
{
    int k = conf_key_index(conf_section_of(kind), name);
    return k >= 0 ? conf_key_line(m, k) : 0;
}

static void require(struct parser *p, const struct meta *m, enum section_kind kind,
                    const char *label, int line, const char *name)
{
    if (!seen_line(m, kind, name))
        conf_error(p, line, "missing key \"%s\" in %s", name, label);
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
            conf_error(p, mode_line, "renewal-mode %s needs a renewal-value (days) in %s",
                       renewal_mode_name(pol->mode), label);
        return;
    }
    if (!good_line(m, kind, "renewal-value"))
        return;
    if (pol->mode == RENEWAL_PERCENT_OF_LIFETIME && !(pol->value > 0 && pol->value < 100))
        conf_error(p, value_line,
                   "renewal-value %g is out of range for renewal-mode percent (more than 0, "
                   "less than 100)",
                   pol->value);
    else if (pol->mode != RENEWAL_PERCENT_OF_LIFETIME &&
             !(pol->value > 0 && pol->value < RENEWAL_DAYS_MAX))
        conf_error(p, value_line,
                   "renewal-value %g is out of range for renewal-mode %s (more than 0 days, "
                   "less than %d)",
                   pol->value, renewal_mode_name(pol->mode), RENEWAL_DAYS_MAX);
}

static int set_default(struct parser *p, char **field, const char *value)
{
    if (!*field)
        *field = conf_strdup(p, value);
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
        conf_error(p, kid, "eab-kid needs eab-hmac-file in [ccs] (external account binding)");
    if (hmac && !kid)
        conf_error(p, hmac, "eab-hmac-file needs eab-kid in [ccs] (external account binding)");
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
            conf_error(p, line,
                       "%s: %s applies to a local directory only (location is an SMB "
                       "share, whose own permissions apply)",
                       label, keys[k]);
        else if (line)
            conf_error(p, line,
                       "%s: %s applies to an SMB share only (location is a local "
                       "directory)",
                       label, keys[k]);
    }
    if (smb && (s->kerberos + s->guest + (s->credentials_file != NULL)) > 1)
        conf_error(
            p, good_line(m, SEC_STORE, "guest") ? good_line(m, SEC_STORE, "guest") : s->where.line,
            "%s: give one of credentials-file, kerberos = yes and guest = yes", label);
    if (smb && s->guest && s->encrypt)
        conf_error(p,
                   good_line(m, SEC_STORE, "encrypt") ? good_line(m, SEC_STORE, "encrypt")
                                                      : s->where.line,
                   "%s: guest = yes cannot be encrypted or signed (a guest session has no key): "
                   "give encrypt = yes or guest = yes, not both",
                   label);
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
            conf_error(p, line, "%s applies to challenge http-01; %s uses dns-01", http_keys[i],
                       label);
    for (size_t i = 0; !dns && i < COUNT(dns_keys); i++)
        if ((line = seen_line(m, SEC_CERTIFICATE, dns_keys[i])))
            conf_error(p, line, "%s applies to challenge dns-01; %s uses http-01", dns_keys[i],
                       label);
    for (size_t i = 0; !dns && c->webroot && i < COUNT(responder_keys); i++)
        if ((line = seen_line(m, SEC_CERTIFICATE, responder_keys[i])))
            conf_error(p, line,
                       "%s configures the built-in http-01 responder, which webroot replaces in "
                       "%s",
                       responder_keys[i], label);
    if (dns && !seen_line(m, SEC_CERTIFICATE, "hook"))
        conf_error(p, c->where.line, "missing key \"hook\" in %s (dns-01 needs a hook)", label);
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
                conf_error(p, conf_domain_line(m, i),
                           "domain \"%s\" is an IP address, which dns-01 cannot prove: use "
                           "challenge = http-01",
                           d);
        } else if (d[0] == '*' && !dns) {
            conf_error(p, conf_domain_line(m, i),
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
        if (set_default(p, &c->challenge, CHALLENGE_DEFAULT) < 0)
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

static void report_duplicate_task(struct parser *p, const struct config_task *t,
                                  const struct config_task *first)
{
    conf_error(p, t->where.line, "duplicate section [task \"%s.%s\"] (first at line %d)",
               t->certificate, t->name, first->where.line);
}

/* Task I, whose certificate has the meta CM, against the certificate's earlier tasks: reported
 * if one has its name (against the first that has), then chained after them. */
static void link_task(struct parser *p, size_t i, struct meta *cm)
{
    const struct config_task *tasks = p->cfg->tasks, *t = &tasks[i];
    uint32_t first = 0;

    for (uint32_t k = cm->link.cert.last_task; k; k = p->task_meta[k - 1].link.task.prev_task)
        if (tasks[k - 1].name && t->name && strcmp(tasks[k - 1].name, t->name) == 0)
            first = k;
    if (first)
        report_duplicate_task(p, t, &tasks[first - 1]);
    p->task_meta[i].link.task.prev_task = cm->link.cert.last_task;
    cm->link.cert.last_task = (uint32_t)i + 1;
}

/* Task I has no certificate (reported by finish_tasks): duplicates among such tasks are found by
 * their full names. */
static void link_orphan_task(struct parser *p, size_t i)
{
    const struct config_task *t = &p->cfg->tasks[i];
    size_t first;
    char *key;
    int rc;

    if (!t->certificate || !t->name ||
        conf_grow_one(p, (void **)&p->task_keys, p->task_key_count, sizeof(*p->task_keys)) < 0)
        return;
    if (asprintf(&key, "%s.%s", t->certificate, t->name) < 0) {
        p->out_of_memory = 1;
        return;
    }
    p->task_keys[p->task_key_count++] = key;
    rc = strmap_put(&p->task_names, key, i, &first);
    if (rc < 0)
        p->out_of_memory = 1;
    else if (rc == 1)
        report_duplicate_task(p, t, &p->cfg->tasks[first]);
}

/* One pass over the tasks, in file order: each task's certificate, tasks given twice, and what
 * each certificate's deploy-ccs tasks say, for the checks and the machine copies that ask it per
 * certificate (a scan of every task per certificate made a config of N certificates cost N^2). */
static void link_tasks(struct parser *p)
{
    const struct config *cfg = p->cfg;

    for (size_t i = 0; i < cfg->task_count; i++) {
        const struct config_task *t = &cfg->tasks[i];
        const struct config_certificate *c = config_find_certificate(cfg, t->certificate);
        struct meta *m;

        if (!c) {
            link_orphan_task(p, i);
            continue;
        }
        m = certificate_meta(p, c);
        p->task_meta[i].link.task.certificate = (uint32_t)(c - cfg->certificates) + 1;
        link_task(p, i, m);
        if (t->type != TASK_DEPLOY_CCS || !t->store)
            continue;
        if (!m->link.cert.first_deploy)
            m->link.cert.first_deploy = (uint32_t)i + 1;
        if (config_find_store(cfg, t->store))
            m->link.cert.has_deploy_store = 1;
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
    if (!line || config_find_store(cfg, t->store) || conf_errors_full(p))
        return;
    for (size_t i = 0; i < cfg->store_count; i++)
        suggest_consider(&s, t->store, cfg->stores[i].name);
    conf_error(p, line, "%s names store \"%s\", but there is no [store \"%s\"]%s", label, t->store,
               t->store, hint(&s, buf, sizeof(buf)));
}

static void check_export(struct parser *p, const struct config_task *t, const struct meta *m,
                         const char *label)
{
    const struct config_certificate *c =
        m->link.task.certificate ? &p->cfg->certificates[m->link.task.certificate - 1] : NULL;
    int any = 0, pfx = seen_line(m, SEC_TASK, "pfx");

    for (size_t i = 0; i < COUNT(export_path_keys); i++)
        any |= seen_line(m, SEC_TASK, export_path_keys[i]) != 0;
    if (!any)
        conf_error(p, t->where.line,
                   "%s is an export task without anything to export: set at least one of cert, "
                   "chain, fullchain, key, pfx",
                   label);
    if (pfx && c && !t->pfx_password_file && !seen_line(m, SEC_TASK, "pfx-password-file") &&
        !c->pfx_password_file && !certificate_meta(p, c)->link.cert.has_deploy_store)
        conf_error(p, pfx,
                   "pfx in %s needs a password: set pfx-password-file here or in [certificate "
                   "\"%s\"], or give the certificate a deploy-ccs task",
                   label, c->name);
}

/* Keys that belong to another task type would be silently ignored: errors. */
static void check_type_keys(struct parser *p, const struct config_task *t, const struct meta *m,
                            const char *label)
{
    const struct section_def *sec = conf_section_of(SEC_TASK);

    for (size_t k = 0; k < sec->key_count; k++) {
        unsigned types = sec->keys[k].task_types;
        int owner = 0; /* each type-specific key belongs to one type */

        if (!types || (types & ONLY(t->type)) || !conf_key_line(m, (int)k))
            continue;
        while (owner < TASK_TYPE_COUNT && !(types & ONLY(owner)))
            owner++;
        conf_error(p, conf_key_line(m, (int)k), "key \"%s\" in %s applies to %s tasks, not %s",
                   sec->keys[k].name, label, task_type_name((enum task_type)owner),
                   task_type_name(t->type));
    }
}

static void check_task_certificate(struct parser *p, const struct config_task *t,
                                   const struct meta *m, const char *label)
{
    const struct config *cfg = p->cfg;
    struct suggestion s = {NULL, 0};
    char buf[CONFIG_NAME_MAX + 32];

    if (m->link.task.certificate || conf_errors_full(p))
        return;
    for (size_t c = 0; c < cfg->certificate_count; c++)
        suggest_consider(&s, t->certificate, cfg->certificates[c].name);
    conf_error(p, t->where.line,
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
        check_task_certificate(p, t, m, label);
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
 * the copy has no cert.pfx. The file's tasks are SHIFT places up in cfg->tasks. */
static const char *live_copy_pfx_password(struct parser *p, const struct config_certificate *c,
                                          size_t shift)
{
    size_t first = certificate_meta(p, c)->link.cert.first_deploy;
    const struct config_store *s;

    if (c->pfx_password_file)
        return c->pfx_password_file;
    if (!first)
        return NULL;
    s = config_find_store(p->cfg, p->cfg->tasks[first - 1 + shift].store);
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

/* The files of a machine copy, in the order of their fields in struct config_task. */
static const char *const live_copy_files[] = {"cert.pem", "chain.pem", "fullchain.pem",
                                              "privkey.pem", "cert.pfx"};

/* Fill T as the machine copy of C (LIVE_COPY_TASK in config.h); the file's tasks are SHIFT places
 * up in cfg->tasks already. Its strings are shared, not
 * copied (config.h, `implied`): its name and group are constants, its certificate the
 * certificate's name, its PFX password file the certificate's or the store's, and its paths one
 * allocation (at cert_path) — 100,000 store-only certificates would otherwise cost nine
 * allocations each. KEY_GROUP: whether the key and PFX go to LIVE_COPY_KEY_GROUP. */
static void make_live_copy(struct parser *p, const struct config_certificate *c,
                           struct config_task *t, int key_group, size_t shift)
{
    const struct config *cfg = p->cfg;
    const char *pfx_password = live_copy_pfx_password(p, c, shift);
    char **paths[] = {&t->cert_path, &t->chain_path, &t->fullchain_path, &t->key_path,
                      &t->pfx_path};
    size_t files = pfx_password ? COUNT(live_copy_files) : COUNT(live_copy_files) - 1;
    size_t dir_len = strlen(cfg->live_dir) + 1 + strlen(c->name) + 1, size = 0, used = 0;
    char *block;

    _Static_assert(COUNT(paths) == COUNT(live_copy_files), "a path per file");
    memset(t, 0, sizeof(*t));
    t->name = (char *)LIVE_COPY_TASK;
    t->certificate = c->name;
    t->where = c->where;
    t->type = TASK_EXPORT;
    t->phase = TASK_PHASE_POST;
    t->trigger = TRIGGER_ON_SUCCESS;
    t->timeout_s = CONFIG_DEFAULT_SCRIPT_TIMEOUT_S;
    t->implied = 1;
    t->dir_mode = LIVE_COPY_DIR_MODE;
    for (size_t f = 0; f < files; f++)
        size += dir_len + strlen(live_copy_files[f]) + 1;
    block = malloc(size);
    if (!block) {
        p->out_of_memory = 1;
        return;
    }
    for (size_t f = 0; f < files; f++) { /* LIVE_DIR/NAME/FILE */
        *paths[f] = block + used;
        used += (size_t)snprintf(block + used, size - used, "%s/%s/%s", cfg->live_dir, c->name,
                                 live_copy_files[f]) +
                1;
    }
    t->pfx_password_file = (char *)pfx_password;
    if (key_group)
        t->group = (char *)LIVE_COPY_KEY_GROUP;
}

/* Whether the machine copies' keys go to LIVE_COPY_KEY_GROUP: the system has it and this process
 * may give files to it. Looked up once per load, not per certificate (each lookup reads
 * /etc/group); the reentrant lookup (ids.h): `ccs serve` reloads its configuration beside its
 * threads. */
static int live_copy_key_group(void)
{
    struct errbuf no_group;
    long key_gid;

    return ids_group(LIVE_COPY_KEY_GROUP, &key_gid, &no_group) == 0 && key_gid >= 0 &&
           may_give_group((gid_t)key_gid);
}

/* Every store-only certificate gets its machine copy, placed before the tasks of the file (the
 * copy is part of installing the certificate, and tasks run in array order). A task of the file
 * with the reserved name would be ambiguous: an error. */
static void add_live_copies(struct parser *p)
{
    struct config *cfg = p->cfg;
    struct config_task *tasks;
    size_t n = 0, k = 0;
    int key_group;

    for (size_t i = 0; i < cfg->certificate_count; i++)
        n += cfg->certificates[i].deployment == DEPLOYMENT_STORE_ONLY;
    for (size_t i = 0; i < cfg->task_count; i++) {
        const struct config_certificate *c;
        if (!cfg->tasks[i].name || strcmp(cfg->tasks[i].name, LIVE_COPY_TASK) != 0)
            continue;
        c = config_find_certificate(cfg, cfg->tasks[i].certificate);
        if (c && c->deployment == DEPLOYMENT_STORE_ONLY)
            conf_error(p, cfg->tasks[i].where.line,
                       "[task \"%s.%s\"]: the name %s is taken by the machine copy that "
                       "deployment = store-only implies for certificate %s: rename the task",
                       c->name, LIVE_COPY_TASK, LIVE_COPY_TASK, c->name);
    }
    if (n == 0)
        return;
    /* grown in place (no second array of every task), the file's tasks moved up behind the
     * copies */
    if (cfg->task_count + n > SIZE_MAX / sizeof(*tasks) ||
        !(tasks = realloc(cfg->tasks, (cfg->task_count + n) * sizeof(*tasks)))) {
        p->out_of_memory = 1;
        return;
    }
    memmove(tasks + n, tasks, cfg->task_count * sizeof(*tasks));
    cfg->tasks = tasks;
    cfg->task_count += n;
    key_group = live_copy_key_group();
    for (size_t i = 0; i < cfg->certificate_count; i++)
        if (cfg->certificates[i].deployment == DEPLOYMENT_STORE_ONLY)
            make_live_copy(p, &cfg->certificates[i], &tasks[k++], key_group, n);
}

/* ---- [serve] and [site]: cross-references ------------------------------------------------- */

/* Every host is routed by one section only. The hosts of [serve] and of every [site] go into
 * one map, in file order: a host's first listing is the map's, and chains the later ones (a scan
 * of every earlier section per host made many sites quadratic). */
struct host_listing {
    uint32_t owner;      /* 0: [serve]; else 1 + the index of the [site] */
    uint32_t item;       /* in the owner's hosts */
    uint32_t next, last; /* 1 + index of the next and (in a first listing) the last; 0: none */
};

struct host_listings {
    struct strmap first; /* host → index of its first listing */
    struct host_listing *all;
    size_t count;
};

static const struct config_strings *listed_in(const struct config *cfg, uint32_t owner)
{
    return owner ? &cfg->sites[owner - 1].hosts : &cfg->serve->hosts;
}

/* Add host ITEM of OWNER's hosts; report it against each earlier listing (LABEL: OWNER's). */
static void list_host(struct parser *p, struct host_listings *h, uint32_t owner, uint32_t item,
                      const char *label)
{
    const struct config *cfg = p->cfg;
    const struct config_strings *list = listed_in(cfg, owner);
    const char *host = list->items[item];
    size_t first, n = h->count, tail;
    char other[sizeof(p->label)];

    if (conf_grow_one(p, (void **)&h->all, n, sizeof(*h->all)) < 0)
        return;
    h->all[n] = (struct host_listing){owner, item, 0, 0};
    h->count++;
    if (!strmap_get(&h->first, host, &first)) {
        if (strmap_put(&h->first, host, n, NULL) < 0)
            p->out_of_memory = 1;
        return;
    }
    for (size_t k = first + 1; k; k = h->all[k - 1].next) {
        const struct host_listing *before = &h->all[k - 1];
        if (before->owner)
            snprintf(other, sizeof(other), "[site \"%s\"]", cfg->sites[before->owner - 1].name);
        else
            snprintf(other, sizeof(other), "[serve]");
        conf_error(p, list->lines[item], "host \"%s\" in %s is already listed in %s (line %d)",
                   host, label, other, listed_in(cfg, before->owner)->lines[before->item]);
    }
    tail = h->all[first].last ? h->all[first].last - 1 : first;
    h->all[tail].next = (uint32_t)n + 1;
    h->all[first].last = (uint32_t)n + 1;
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
            conf_error(p, cfg->sites[0].where.line,
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
        conf_error(p, line, "[serve] names store \"%s\", but there is no [store \"%s\"]%s",
                   sv->store, sv->store, hint(&s, buf, sizeof(buf)));
    }
}

static void finish_sites(struct parser *p)
{
    const struct config *cfg = p->cfg;
    struct host_listings hosts = {STRMAP_INIT, NULL, 0};
    char label[sizeof(p->label)];

    for (size_t h = 0; cfg->serve && h < cfg->serve->hosts.count; h++)
        list_host(p, &hosts, 0, (uint32_t)h, "[serve]");
    for (size_t i = 0; i < cfg->site_count; i++) {
        struct config_site *site = &cfg->sites[i];
        const struct meta *m = &p->site_meta[i];

        snprintf(label, sizeof(label), "[site \"%s\"]", site->name);
        require(p, m, SEC_SITE, label, site->where.line, "hosts");
        require(p, m, SEC_SITE, label, site->where.line, "backend");
        site->proxy_protocol_set = seen_line(m, SEC_SITE, "proxy-protocol") != 0;
        if (!site->proxy_protocol_set && cfg->serve)
            site->proxy_protocol = cfg->serve->proxy_protocol;
        for (size_t h = 0; h < site->hosts.count; h++)
            list_host(p, &hosts, (uint32_t)i + 1, (uint32_t)h, label);
    }
    strmap_free(&hosts.first);
    free(hosts.all);
}

void conf_check(struct parser *p)
{
    finish_ccs(p);
    finish_stores(p);
    finish_certificates(p);
    link_tasks(p);
    finish_tasks(p);
    add_live_copies(p);
    finish_serve(p);
    finish_sites(p);
}
