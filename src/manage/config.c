/* config.c — loading ccs.conf (config_load): the parser's error list and its notes on each
 * section, freeing, and the lookups by name. The reading, the keys, the values and the
 * cross-checks are in config_read.c, config_keys.c, config_values.c and config_check.c
 * (config_parser.h says which does what). */
#include "manage/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manage/config_parser.h"
#include "store/names.h"

void conf_error(struct parser *p, int line, const char *fmt, ...)
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
int conf_errors_full(struct parser *p)
{
    if (p->errors->count < CONFIG_ERRORS_MAX || p->closing)
        return 0;
    p->errors_dropped++;
    return 1;
}

char *conf_strdup(struct parser *p, const char *s)
{
    char *d = strdup(s);
    if (!d)
        p->out_of_memory = 1;
    return d;
}

/* Make room in *ITEMS (COUNT elements of SIZE) for one more, zeroed. The room doubles when COUNT
 * reaches a power of two (the capacity is implied by the count, not stored), so a config of N
 * sections costs O(N) copying, not O(N^2). */
int conf_grow_one(struct parser *p, void **items, size_t count, size_t size)
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
const char *conf_shown(const char *s, char *buf, size_t size)
{
    size_t len = strlen(s);
    store_name_escape(s, len < SHOWN_MAX ? len : SHOWN_MAX, buf, size);
    if (len > SHOWN_MAX && strlen(buf) + 4 <= size)
        strcat(buf, "...");
    return buf;
}

/* Line of key K's first setting in the section of M; 0: not set. */
int conf_key_line(const struct meta *m, int k)
{
    for (size_t i = 0; i < m->seen_count; i++)
        if (m->seen[i].key == k)
            return m->seen[i].line;
    return 0;
}

/* Record KEY (a key index or SEEN_DOMAIN) at the current line. */
int conf_add_seen(struct parser *p, struct meta *m, int key)
{
    /* Room for SEEN_FIRST at once (a section sets two or three keys; a certificate's domains
     * count too), then doubling, as conf_grow_one does from there. */
    if (!m->seen && !(m->seen = calloc(SEEN_FIRST, sizeof(*m->seen)))) {
        p->out_of_memory = 1;
        return -1;
    }
    if (m->seen_count >= SEEN_FIRST &&
        conf_grow_one(p, (void **)&m->seen, m->seen_count, sizeof(*m->seen)) < 0)
        return -1;
    m->seen[m->seen_count].line = p->line;
    m->seen[m->seen_count++].key = (unsigned char)key;
    return 0;
}

/* Line of the certificate's domain number N (0-based). */
int conf_domain_line(const struct meta *m, size_t n)
{
    for (size_t i = 0; i < m->seen_count; i++)
        if (m->seen[i].key == SEEN_DOMAIN && n-- == 0)
            return m->seen[i].line;
    return 0;
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

static void free_metas(struct parser *p)
{
    for (size_t i = 0; i < p->task_key_count; i++)
        free(p->task_keys[i]);
    free(p->task_keys);
    strmap_free(&p->task_names);
    strmap_free(&p->site_names);
    strmap_free(&p->list_items);
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

/* Give back the room conf_grow_one left at the end of an array (up to half of it): a loaded
 * config lives as long as the process (ccs renew, ccs serve). Failing to is harmless. */
static void fit(void *items, size_t count, size_t size)
{
    void **array = items, *fitted;

    if (count && (fitted = realloc(*array, count * size)))
        *array = fitted;
}

int config_load(const char *path, struct config *out, struct config_errors *errors)
{
    struct parser p = {.cfg = out, .errors = errors, .file = path, .kind = SEC_NONE};

    memset(out, 0, sizeof(*out));
    memset(errors, 0, sizeof(*errors));
    errors->file = conf_strdup(&p, path);
    out->path = conf_strdup(&p, path);
    out->index = calloc(1, sizeof(*out->index));
    if (!errors->file || !out->path || !out->index) {
        p.out_of_memory = 1;
        conf_error(&p, 0, "out of memory");
        config_free(out);
        return -1;
    }
    out->key_type = KEY_TYPE_DEFAULT;
    out->policy.mode = RENEWAL_PERCENT_OF_LIFETIME;
    out->policy.value = RENEWAL_DEFAULT_PERCENT;
    out->http_port = CONFIG_DEFAULT_HTTP_PORT;
    config_dir(path, p.dir, sizeof(p.dir));

    if (conf_read(&p, path) == 0)
        conf_check(&p);
    free_metas(&p);
    fit(&out->certificates, out->certificate_count, sizeof(*out->certificates));
    fit(&out->tasks, out->task_count, sizeof(*out->tasks));
    fit(&out->stores, out->store_count, sizeof(*out->stores));
    p.closing = 1;
    if (p.errors_dropped)
        conf_error(&p, 0, "more than %d errors: only the first %d are listed", CONFIG_ERRORS_MAX,
                   CONFIG_ERRORS_MAX);
    if (p.out_of_memory)
        conf_error(&p, 0, "out of memory");
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
        if (t->implied) { /* its strings are shared; its paths one block (config.h) */
            free(t->cert_path);
            continue;
        }
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
