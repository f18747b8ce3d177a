/* config_read.c — the lines of ccs.conf: section headers open sections (with their defaults),
 * KEY = VALUE lines go to the key tables (config_keys.c) and values (config_values.c).
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
 * Every bad line is reported with its number, and parsing goes on to find them all. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "manage/config_parser.h"

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
        conf_error(p, p->line,
                   "%s name \"%s\" is not usable: letters, digits, '-', '_'%s only, not first "
                   "'-'%s, at most %d characters",
                   what, conf_shown(name, buf, sizeof(buf)), allow_dot ? " and '.'" : "",
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

/* Index entity INDEX under its NAME (NULL: its copy failed, already flagged): 1 if the name was
 * there already, with the first entity of that name in *FIRST (which stays the indexed one);
 * else 0. One hash operation finds the duplicate and indexes the name. */
static int index_name(struct parser *p, struct strmap *map, const char *name, size_t index,
                      size_t *first)
{
    int rc = name ? strmap_put(map, name, index, first) : 0;

    if (rc < 0)
        p->out_of_memory = 1;
    return rc == 1;
}

static void open_ccs(struct parser *p)
{
    if (p->ccs_line)
        conf_error(p, p->line, "duplicate section [ccs] (first at line %d)", p->ccs_line);
    else
        p->ccs_line = p->line;
    snprintf(p->label, sizeof(p->label), "[ccs]");
    p->kind = SEC_CCS;
}

static void open_store(struct parser *p, const char *name)
{
    struct config *cfg = p->cfg;
    struct config_store *s;
    size_t first;

    if (check_name(p, "store", name, 1) < 0)
        return;
    if (conf_grow_one(p, (void **)&cfg->stores, cfg->store_count, sizeof(*cfg->stores)) < 0 ||
        conf_grow_one(p, (void **)&p->store_meta, cfg->store_count, sizeof(*p->store_meta)) < 0)
        return;
    s = &cfg->stores[cfg->store_count];
    s->name = conf_strdup(p, name);
    if (index_name(p, &cfg->index->stores, s->name, cfg->store_count, &first))
        conf_error(p, p->line, "duplicate section [store \"%s\"] (first at line %d)", name,
                   cfg->stores[first].where.line);
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
    struct config_certificate *c;
    size_t first;

    if (check_name(p, "certificate", name, 1) < 0)
        return;
    if (conf_grow_one(p, (void **)&cfg->certificates, cfg->certificate_count,
                      sizeof(*cfg->certificates)) < 0 ||
        conf_grow_one(p, (void **)&p->certificate_meta, cfg->certificate_count,
                      sizeof(*p->certificate_meta)) < 0)
        return;
    c = &cfg->certificates[cfg->certificate_count];
    c->name = conf_strdup(p, name);
    if (index_name(p, &cfg->index->certificates, c->name, cfg->certificate_count, &first))
        conf_error(p, p->line, "duplicate section [certificate \"%s\"] (first at line %d)", name,
                   cfg->certificates[first].where.line);
    set_where(&c->where, p);
    c->hook_timeout_s = CONFIG_DEFAULT_HOOK_TIMEOUT_S;
    c->deployment = DEPLOYMENT_NONE;
    p->index = cfg->certificate_count++;
    p->kind = SEC_CERTIFICATE;
    snprintf(p->label, sizeof(p->label), "[certificate \"%s\"]", name);
}

/* [task "CERT.TASK"]: split at the last dot, since certificate names may hold dots and task
 * names may not. A task given twice is found after the last line (config_check.c). */
static void open_task(struct parser *p, const char *full)
{
    struct config *cfg = p->cfg;
    const char *dot = strrchr(full, '.');
    char cert[PART_ROOM];
    struct config_task *t;

    if (!dot || dot == full || !dot[1]) {
        char buf[SHOWN_BUF];
        conf_error(p, p->line,
                   "task \"%s\" must be named CERT.TASK: the certificate's name, a dot, the "
                   "task's name",
                   conf_shown(full, buf, sizeof(buf)));
        return;
    }
    snprintf(cert, sizeof(cert), "%.*s", (int)(dot - full), full);
    if (check_name(p, "certificate", cert, 1) < 0 || check_name(p, "task", dot + 1, 0) < 0)
        return;
    if (conf_grow_one(p, (void **)&cfg->tasks, cfg->task_count, sizeof(*cfg->tasks)) < 0 ||
        conf_grow_one(p, (void **)&p->task_meta, cfg->task_count, sizeof(*p->task_meta)) < 0)
        return;
    t = &cfg->tasks[cfg->task_count];
    t->name = conf_strdup(p, dot + 1);
    t->certificate = conf_strdup(p, cert);
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
        conf_error(p, p->line, "duplicate section [serve] (first at line %d)", p->serve_line);
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

    size_t first;

    if (check_name(p, "site", name, 1) < 0)
        return;
    if (conf_grow_one(p, (void **)&cfg->sites, cfg->site_count, sizeof(*cfg->sites)) < 0 ||
        conf_grow_one(p, (void **)&p->site_meta, cfg->site_count, sizeof(*p->site_meta)) < 0)
        return;
    site = &cfg->sites[cfg->site_count];
    site->name = conf_strdup(p, name);
    if (index_name(p, &p->site_names, site->name, cfg->site_count, &first))
        conf_error(p, p->line, "duplicate section [site \"%s\"] (first at line %d)", name,
                   cfg->sites[first].where.line);
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

    p->kind = SEC_SKIP;      /* until the section is known good: its keys are then ignored */
    p->list_items_of = NULL; /* the lists of the section before may move (cfg->sites grows) */
    def = conf_section_named(kind, &s);
    conf_shown(kind, buf, sizeof(buf));
    if (!def && s.best)
        conf_error(p, p->line, "unknown section [%s] (did you mean [%s]?)", buf, s.best);
    else if (!def)
        conf_error(p, p->line,
                   "unknown section [%s] (sections: [ccs], [store \"NAME\"], "
                   "[certificate \"NAME\"], [task \"CERT.TASK\"], [serve], [site \"NAME\"])",
                   buf);
    else if (def->named && !name)
        conf_error(p, p->line, "section [%s] needs a name: [%s \"NAME\"]", kind, kind);
    else if (!def->named && name)
        conf_error(p, p->line, "section [%s] takes no name", kind);
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
        conf_error(p, p->line, "section header without its closing ']'");
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
        conf_error(p, p->line, "section header must read [%s \"NAME\"]", inner);
        return;
    }
    if (len) {
        rest[len - 1] = '\0';
        name = rest + 1;
    }
    inner[kind_len] = '\0'; /* before the name: the quote it may overwrite is consumed */
    if (!*inner) {
        conf_error(p, p->line, "section header without a section kind");
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
    const struct section_def *sec = conf_section_of(p->kind);
    struct meta *m = NULL;
    void *entity;
    int k, line;

    if (p->kind == SEC_SKIP)
        return;
    if (p->kind == SEC_NONE) {
        char buf[SHOWN_BUF];
        conf_error(p, p->line,
                   "key \"%s\" before any section (keys go under [ccs] or a named "
                   "section)",
                   conf_shown(name, buf, sizeof(buf)));
        return;
    }
    if (!*name) {
        conf_error(p, p->line, "no key before '=' in %s", p->label);
        return;
    }
    k = conf_key_index(sec, name);
    if (k < 0) {
        if (!continued) /* else the key itself was reported */
            conf_unknown_key(p, sec, name);
        return;
    }
    entity = current_entity(p, &m);
    if (!entity)
        return;
    if (continued && !list_kind(sec->keys[k].kind)) {
        conf_error(p, p->line,
                   "indented line continues \"%s\", which takes one value (only domains, "
                   "contact, listen, hosts and alpn continue on indented lines; unindent it to "
                   "start a key)",
                   sec->keys[k].name);
        return;
    }
    line = conf_key_line(m, k);
    if (!continued && line && !list_kind(sec->keys[k].kind)) {
        conf_error(p, p->line, "duplicate key \"%s\" in %s (first at line %d)", name, p->label,
                   line);
        return;
    }
    if (!line && conf_add_seen(p, m, k) < 0)
        return;
    if (conf_set_value(p, &sec->keys[k], entity, m, value) < 0)
        m->key_bad |= UINT32_C(1) << k;
}

/* One physical line, LEN octets with its line end: its shape (the rules at the top of this file),
 * then its key. Every bad line is reported, and the next one is read as if it had not been
 * there (a bad line neither starts nor ends a key a following indented line could continue). */
static void parse_line(struct parser *p, char *line, size_t len)
{
    char *text = line, *start, *sep, *name;

    if (strlen(line) != len) {
        conf_error(p, p->line, "line contains a NUL byte");
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
        conf_error(p, p->line,
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
        conf_error(p, p->line, "expected KEY = VALUE, a [section] header or a comment");
        return;
    }
    *sep = '\0';
    name = trim(start);
    cut_inline_comment(sep + 1);
    /* An empty key (a line starting with '=') is reported, and leaves nothing to continue. */
    snprintf(p->prev_key, sizeof(p->prev_key), "%s", name);
    on_key(p, name, trim(sep + 1), 0);
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
        conf_error(p, 0, "not a regular file (%s): refused, not read", file_kind(st.st_mode));
        return NULL;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        conf_error(p, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0) < 0 ||
        !(fp = fdopen(fd, "r"))) {
        conf_error(p, 0, "not a regular file (%s): refused, not read", file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    return fp;
}

static void conf_read_lines(struct parser *p)
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
        conf_error(p, p->line + 1, "cannot read: %s", strerror(errno));
    else if (errno == ENOMEM)
        p->out_of_memory = 1;
    free(line);
}

int conf_read(struct parser *p, const char *path)
{
    p->fp = open_config(p, path);
    if (!p->fp)
        return -1;
    conf_read_lines(p);
    fclose(p->fp);
    p->fp = NULL;
    p->file_tasks = p->cfg->task_count;
    return 0;
}
