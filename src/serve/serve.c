/* serve.c — `ccs serve` from start to stop (serve.h).
 *
 * Start-up order, and why:
 *   1. ccs.conf is read and the settings built: a bad configuration fails before anything binds;
 *   2. the store password is read, the store opened: still as the starting user (root, usually),
 *      who can read a 0600 password file;
 *   3. every listening socket (one per address per worker) and the admin socket are bound: ports
 *      below 1024 need root;
 *   4. privileges are dropped to [serve] user: from here on a bug can do only what that user can;
 *   5. the threads start: loaders, the workers, the change feed (after the workers, so that its
 *      watch is not on the way to the first handshake: changes.h), the admin endpoint.
 * Signals are blocked in every thread; the main thread takes them with sigtimedwait(): SIGHUP
 * re-reads ccs.conf (new connections get the new settings, open ones keep theirs), SIGTERM and
 * SIGINT stop accepting and drain, a second one exits at once. The same loop rotates the
 * session ticket keys. */
#include "serve/serve.h"

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "manage/store_config.h"
#include "serve/admin.h"
#include "serve/changes.h"
#include "serve/conn.h"
#include "store/pfx.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/text.h"

/* How often the main thread wakes without a signal: to rotate ticket keys on time; and, while
 * the workers drain, to notice promptly that they are done. */
#define SERVE_TICK_S 1
#define SERVE_DRAIN_TICK_NS 20000000L /* 20 ms */
/* Descriptors per connection (client and backend) and spare ones (listeners, store, watch, admin). */
#define SERVE_FDS_PER_CONNECTION 2
#define SERVE_FDS_SPARE 256

struct server {
    const char *config_path;
    struct serve_ctx ctx;
    struct worker *workers;
    unsigned nworkers;
    struct changes *changes;
    struct admin *admin;
    int admin_fd;
    unsigned load_delay_ms;
    const char *load_delay_match;
    /* What the server started with (serve_run's reference): the restart-only settings stay these
     * through every reload, so a reload is compared with them, not with the last reload's. */
    const struct serve_settings *started;
};

/* ---- context --------------------------------------------------------------------------------- */

struct serve_settings *serve_ctx_settings(struct serve_ctx *ctx)
{
    struct serve_settings *s;

    pthread_mutex_lock(&ctx->settings_mutex);
    s = serve_settings_ref(ctx->settings);
    pthread_mutex_unlock(&ctx->settings_mutex);
    return s;
}

void serve_ctx_set_settings(struct serve_ctx *ctx, struct serve_settings *settings)
{
    struct serve_settings *old;

    pthread_mutex_lock(&ctx->settings_mutex);
    old = ctx->settings;
    ctx->settings = settings;
    pthread_mutex_unlock(&ctx->settings_mutex);
    atomic_store(&ctx->max_connections, settings->max_connections);
    serve_settings_unref(old);
}

/* ---- configuration --------------------------------------------------------------------------- */

int serve_config_load(const char *path, struct config *cfg)
{
    struct config_errors errors = {0};

    if (config_load(path, cfg, &errors) == 0)
        return 0;
    for (size_t i = 0; i < errors.count; i++) {
        const struct config_error *e = &errors.items[i];
        if (e->where.line > 0)
            log_error("%s:%d: %s", e->where.file, e->where.line, e->message);
        else
            log_error("%s: %s", e->where.file[0] ? e->where.file : path, e->message);
    }
    config_errors_free(&errors);
    return -1;
}

static int build_settings(struct server *srv, struct serve_settings **out)
{
    struct config cfg;
    struct errbuf err;
    int rc;

    *out = NULL;
    if (serve_config_load(srv->config_path, &cfg) < 0)
        return -1;
    rc = serve_settings_build(&cfg, srv->ctx.tickets, conn_client_hello, NULL, out, &err);
    if (rc < 0)
        log_error("%s: %s", srv->config_path, err.msg);
    config_free(&cfg);
    return rc;
}

static int same_addrs(const struct serve_settings *a, const struct serve_settings *b)
{
    if (a->listen_count != b->listen_count)
        return 0;
    for (size_t i = 0; i < a->listen_count; i++)
        if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
            return 0;
    return 1;
}

/* What a reload cannot change: say so when the new configuration differs from what runs. */
static void warn_restart_only(const struct serve_settings *running,
                              const struct serve_settings *s)
{
    static const char restart[] = "takes effect at the next restart of ccs serve";

    if (!same_addrs(running, s))
        log_warning("[serve] listen changed: %s", restart);
    if (running->workers != s->workers)
        log_warning("[serve] workers changed: %s", restart);
    if (!text_same(running->user, s->user))
        log_warning("[serve] user changed: %s", restart);
    if (running->has_admin != s->has_admin || strcmp(running->admin.text, s->admin.text) != 0)
        log_warning("[serve] admin changed: %s", restart);
    if (!config_store_same_opening(&running->store, &s->store))
        log_warning("[serve] store (its location, password file or connection options) "
                    "changed: %s",
                    restart);
}

static void reload(struct server *srv)
{
    struct serve_settings *s;

    log_info("SIGHUP: re-reading %s", srv->config_path);
    if (build_settings(srv, &s) < 0) {
        log_error("%s has errors: the running configuration stays", srv->config_path);
        return;
    }
    warn_restart_only(srv->started, s);
    serve_ctx_set_settings(&srv->ctx, s);
    log_info("%s reloaded: new connections use it, open ones keep theirs", srv->config_path);
}

/* ---- the store ------------------------------------------------------------------------------- */

/* The host a store file is named for: "_.example.com.pfx" -> "*.example.com". */
static void file_host(const char *file, char *out, size_t size)
{
    size_t n = strlen(file);

    if (n >= strlen(STORE_FILE_SUFFIX))
        n -= strlen(STORE_FILE_SUFFIX);
    if (strncmp(file, "_.", 2) == 0)
        snprintf(out, size, "*.%.*s", (int)(n - 2), file + 2);
    else
        snprintf(out, size, "%.*s", (int)n, file);
}

/* The cache's report of a load that was not usable, from the loader thread that loaded it. */
static void on_load_failure(void *arg, const char *file, const char *message)
{
    const char *host = loader_current_host();
    char own[STORE_NAME_BUF + 8];

    (void)arg;
    if (!host) {
        file_host(file, own, sizeof(own));
        host = own;
    }
    log_error("cannot serve host %s: %s", host, message);
}

static void load_delay(void *arg, const char *file)
{
    const struct server *srv = arg;
    struct timespec ts = {srv->load_delay_ms / 1000, (long)(srv->load_delay_ms % 1000) * 1000000};

    if (!srv->load_delay_match || fnmatch(srv->load_delay_match, file, 0) == 0)
        nanosleep(&ts, NULL);
}

int serve_store_password(const char *store_name, const char *password_file, struct secret *out,
                         struct errbuf *err)
{
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    char path[4096];
    struct secret_source src = {.what = "store password", .option = "password-file",
                                .path = password_file};

    snprintf(path, sizeof(path), "%s/%s", creds ? creds : "", SERVE_PASSWORD_CREDENTIAL);
    if (creds && *creds && access(path, F_OK) == 0) {
        src.path = NULL;
        src.credential_name = SERVE_PASSWORD_CREDENTIAL;
    }
    if (secret_load(&src, out, err) < 0)
        return errbuf_prefix(err, "[store \"%s\"]", store_name);
    if (out->len == 0)
        log_warning("the password of store \"%s\" (from %s) is empty: anyone who can read a "
                    "store file holds its private key",
                    store_name, out->origin);
    return 0;
}

static int open_store(struct server *srv, const struct serve_settings *s)
{
    struct store_cache_options opts = {.report = on_load_failure};
    const char *delay = getenv(SERVE_TEST_LOAD_DELAY_ENV);
    struct secret password = {0};
    struct errbuf err;
    int rc;

    if (delay && *delay) {
        srv->load_delay_ms = (unsigned)strtoul(delay, NULL, 10);
        srv->load_delay_match = getenv(SERVE_TEST_LOAD_DELAY_MATCH_ENV);
        opts.load_hook = load_delay;
        opts.load_hook_arg = srv;
        log_warning("%s=%u is set: store loads%s%s are delayed (a knob for tests only)",
                    SERVE_TEST_LOAD_DELAY_ENV, srv->load_delay_ms,
                    srv->load_delay_match ? " of files matching " : "",
                    srv->load_delay_match ? srv->load_delay_match : "");
    }
    if (config_store_open(&s->store, &srv->ctx.store, &err) < 0) {
        log_error("[store \"%s\"]: %s", s->store.name, err.msg);
        return -1;
    }
    if (serve_store_password(s->store.name, s->store.password_file, &password, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    rc = store_cache_new(srv->ctx.store, password.value, &opts, &srv->ctx.cache, &err);
    secret_free(&password);
    if (rc < 0)
        log_error("%s", err.msg);
    return rc;
}

/* ---- process --------------------------------------------------------------------------------- */

/* Two descriptors per connection: raise the soft limit to the hard one if that is too few. */
static void raise_fd_limit(int max_connections)
{
    rlim_t want = (rlim_t)max_connections * SERVE_FDS_PER_CONNECTION + SERVE_FDS_SPARE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        log_warning("max-connections %d needs %llu file descriptors; the limit is %llu (raise "
                    "LimitNOFILE=)",
                    max_connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

static int drop_privileges(const char *user)
{
    struct passwd *pw;
    char *end;
    unsigned long uid = strtoul(user, &end, 10);

    pw = *user && !*end ? getpwuid((uid_t)uid) : getpwnam(user);
    if (!pw) {
        log_error("[serve] user \"%s\": no such user", user);
        return -1;
    }
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
        return 0;
    if (geteuid() != 0) {
        log_error("[serve] user \"%s\": only root can switch to it (running as uid %u)", user,
                  (unsigned)geteuid());
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        log_error("[serve] user \"%s\": cannot switch to it: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        log_error("[serve] user \"%s\": root could be regained after switching: refusing to run",
                  user);
        return -1;
    }
    log_info("running as user %s (uid %u)", pw->pw_name, (unsigned)pw->pw_uid);
    return 0;
}

static int bind_all(struct server *srv, const struct serve_settings *s)
{
    struct errbuf err;

    srv->nworkers = s->workers;
    srv->workers = calloc(s->workers, sizeof(*srv->workers));
    if (!srv->workers || serve_stats_init(&srv->ctx.stats, s->workers) < 0) {
        log_error("out of memory");
        return -1;
    }
    for (unsigned i = 0; i < s->workers; i++) {
        struct worker *w = &srv->workers[i];
        w->ctx = &srv->ctx;
        w->index = i;
        w->counters = &srv->ctx.stats.workers[i];
        if (worker_bind(w, s, &err) < 0) {
            log_error("%s", err.msg);
            return -1;
        }
    }
    if (s->has_admin && admin_bind(&s->admin, &srv->admin_fd, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return 0;
}

static int start_threads(struct server *srv, const struct serve_settings *s)
{
    struct loader_options lo = {.threads = s->workers > 2 ? s->workers : 2,
                                .served = srv->ctx.served};
    struct errbuf err;

    if (loader_new(srv->ctx.cache, &lo, &srv->ctx.loader, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (worker_start(&srv->workers[i], &err) < 0) {
            log_error("%s", err.msg);
            return -1;
        }
    /* After the workers: the watch is not on the way to the first handshake (changes.h). */
    if (changes_start(&srv->ctx, &srv->changes, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    if (srv->admin_fd >= 0) {
        if (admin_start(&srv->ctx, srv->admin_fd, &srv->admin, &err) < 0) {
            log_error("%s", err.msg);
            return -1;
        }
        srv->admin_fd = -1; /* the admin endpoint's now */
    }
    return 0;
}

/* ---- signals --------------------------------------------------------------------------------- */

static void signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

static void stop_workers(struct server *srv)
{
    atomic_store(&srv->ctx.draining, 1);
    for (unsigned i = 0; i < srv->nworkers; i++)
        worker_stop(&srv->workers[i]);
}

/* Until the workers have drained: SIGHUP reloads, SIGTERM/SIGINT drains, a second one ends the
 * process at once; ticket keys rotate on time. */
static void main_loop(struct server *srv)
{
    time_t rotated = time(NULL);
    int stopping = 0;
    sigset_t set;
    struct errbuf err;

    signal_set(&set);
    while (!stopping || atomic_load(&srv->ctx.workers_running) > 0) {
        struct timespec tick = stopping ? (struct timespec){0, SERVE_DRAIN_TICK_NS}
                                        : (struct timespec){SERVE_TICK_S, 0};
        int sig = sigtimedwait(&set, NULL, &tick);

        if (sig == SIGHUP) {
            reload(srv);
        } else if ((sig == SIGTERM || sig == SIGINT) && stopping) {
            log_warning("%s again: exiting without waiting for open connections",
                        sig == SIGTERM ? "SIGTERM" : "SIGINT");
            _exit(1);
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("%s: no new connections; waiting for open ones (at most drain-timeout)",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stopping = 1;
            stop_workers(srv);
        }
        if (time(NULL) - rotated >= TICKET_KEY_ROTATE_S) {
            if (ticket_keys_rotate(srv->ctx.tickets, &err) < 0)
                log_error("%s", err.msg);
            rotated = time(NULL);
        }
    }
}

/* ---- start and stop -------------------------------------------------------------------------- */

static void server_free(struct server *srv)
{
    for (unsigned i = 0; srv->workers && i < srv->nworkers; i++)
        worker_stop(&srv->workers[i]);
    for (unsigned i = 0; srv->workers && i < srv->nworkers; i++)
        worker_join(&srv->workers[i]);
    admin_stop(srv->admin);
    changes_stop(srv->changes);
    loader_free(srv->ctx.loader); /* may still wake workers: their loops are not freed yet */
    for (unsigned i = 0; srv->workers && i < srv->nworkers; i++)
        worker_free(&srv->workers[i]);
    free(srv->workers);
    if (srv->admin_fd >= 0)
        close(srv->admin_fd);
    serve_settings_unref(srv->ctx.settings);
    store_cache_free(srv->ctx.cache);
    store_close(srv->ctx.store);
    served_free(srv->ctx.served);
    serve_stats_free(&srv->ctx.stats);
    ticket_keys_free(srv->ctx.tickets);
    pthread_mutex_destroy(&srv->ctx.settings_mutex);
}

static void log_started(const struct server *srv, const struct serve_settings *s)
{
    char addrs[1024] = "";
    size_t used = 0;

    for (size_t i = 0; i < s->listen_count && used < sizeof(addrs); i++)
        used += (size_t)snprintf(addrs + used, sizeof(addrs) - used, "%s%s", i ? ", " : "",
                                 s->listen[i].text);
    log_info("serving %s on %s with %u worker%s; store %s%s%s", srv->config_path, addrs,
             srv->nworkers, srv->nworkers == 1 ? "" : "s", store_display_name(srv->ctx.store),
             s->has_admin ? "; admin on " : "", s->has_admin ? s->admin.text : "");
}

int serve_run(const char *config_path)
{
    struct server srv = {.config_path = config_path, .admin_fd = -1};
    struct serve_settings *s = NULL;
    struct errbuf err;
    sigset_t set;
    int rc = 1;

    signal(SIGPIPE, SIG_IGN);
    signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started from here inherits it */
    pthread_mutex_init(&srv.ctx.settings_mutex, NULL);
    if (pfx_crypto_init(&err) < 0 || ticket_keys_new(&srv.ctx.tickets, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    srv.ctx.served = served_new();
    if (!srv.ctx.served || build_settings(&srv, &s) < 0)
        goto out;
    serve_ctx_set_settings(&srv.ctx, serve_settings_ref(s));
    srv.started = s;
    raise_fd_limit(s->max_connections);
    if (open_store(&srv, s) < 0 || bind_all(&srv, s) < 0 ||
        (s->user && drop_privileges(s->user) < 0) || start_threads(&srv, s) < 0)
        goto out;
    log_started(&srv, s);
    main_loop(&srv);
    log_info("stopped");
    rc = 0;
out:
    serve_settings_unref(s);
    server_free(&srv);
    return rc;
}
