/* challenge_dns01_hook.c — challenges answered by a program the operator provides, through
 * uacme's hook interface (uacme(1), "HOOK PROGRAM"), so scripts written for uacme work unchanged:
 *
 *   HOOK begin|done|failed TYPE IDENT TOKEN AUTH
 *
 * The hook inherits ccs's environment, as uacme's hooks do (uacme's own example hook reads
 * CHALLENGE_PATH from it, DNS hooks read their server and key file names from it), with the
 * challenge values set under uacme's names and ours on top. That is safe here because ccs never
 * keeps a secret in its environment: passwords and keys come from files, and only the files'
 * names travel in variables. stdin is /dev/null, stdout is discarded, and the tail of stderr is
 * kept to quote when the hook fails.
 *
 * The hook runs in a process group of its own, so that when it outlives its timeout, SIGTERM and
 * then SIGKILL reach the commands it started (a `sleep`, a `curl`) as well as the hook itself
 * (util/spawn.c, shared with task scripts).
 *
 * Only dns-01 is offered today, but nothing here is specific to it: the type and AUTH come from
 * the challenge, so an http-01 hook is one more ops table and constructor. */
#include "acme/challenge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/spawn.h"

/* Room for "timed out after N s and was killed", "failed (killed by signal N)". */
#define HOOK_HOW_MAX 64
/* Room for "dns-01 hook" in messages. */
#define HOOK_LABEL_MAX 64
#define WILDCARD_PREFIX "*."

/* The challenge values, each under UACME_ and CCS_ names. */
#define HOOK_VALUES 5

struct hook {
    char *program;
    int timeout_s;
};

static const char *identifier_of(const struct acme_challenge_data *c)
{
    return c->identifier ? c->identifier : "(no identifier)";
}

/* IDENT as uacme passes it: a wildcard's base name. The engine gives that already; a "*." that
 * slipped through is removed here all the same, since a hook would build "_acme-challenge.*.x". */
static const char *base_identifier(const struct acme_challenge_data *c)
{
    return strncmp(c->identifier, WILDCARD_PREFIX, strlen(WILDCARD_PREFIX)) == 0
               ? c->identifier + strlen(WILDCARD_PREFIX)
               : c->identifier;
}

static int is_wildcard(const struct acme_challenge_data *c)
{
    return c->wildcard || base_identifier(c) != c->identifier;
}

/* AUTH as uacme defines it: the TXT record value for dns-01, the key authorization otherwise. */
static const char *auth_of(const struct acme_challenge_data *c)
{
    return strcmp(c->type, "dns-01") == 0 ? c->dns_txt_value : c->key_authorization;
}

/* Every argument must be there, and the token must be a safe one: an http-01 hook uses it as a
 * file name. */
static int check_challenge(const struct acme_challenge_data *c, struct errbuf *err)
{
    const char *ident = identifier_of(c);

    if (!c->type || !c->identifier || !c->token || !auth_of(c))
        return errbuf_set(err,
                          "hook for %s: incomplete challenge (type, identifier, token or "
                          "authorization missing)",
                          ident);
    if (!challenge_token_is_valid(c->token))
        return errbuf_set(err,
                          "%s hook for %s: the challenge token is not 1 to %d base64url characters",
                          c->type, ident, CHALLENGE_TOKEN_MAX_LEN);
    return 0;
}

/* ---- the environment ---- */

/* The hook's whole environment: ours (the challenge values under UACME_ and CCS_ names, and
 * CCS_WILDCARD), then the inherited variables except stale UACME_ ones, and a PATH when there is
 * none, so a script finds sh and curl. */
static int env_build(struct spawn_env *env, const char *method, const struct acme_challenge_data *c)
{
    const char *names[HOOK_VALUES] = {"METHOD", "TYPE", "IDENT", "TOKEN", "AUTH"};
    const char *values[HOOK_VALUES] = {method, c->type, base_identifier(c), c->token, auth_of(c)};
    static const char *const drop[] = {"UACME_", NULL};
    char name[sizeof("UACME_METHOD")];

    for (int i = 0; i < HOOK_VALUES; i++) {
        snprintf(name, sizeof(name), "UACME_%s", names[i]);
        if (spawn_env_set(env, name, values[i]) < 0)
            return -1;
        snprintf(name, sizeof(name), "CCS_%s", names[i]);
        if (spawn_env_set(env, name, values[i]) < 0)
            return -1;
    }
    if (spawn_env_set(env, "CCS_WILDCARD", is_wildcard(c) ? "1" : "0") < 0)
        return -1;
    return spawn_env_inherit(env, drop);
}

/* ---- running ---- */

/* "TYPE hook PROGRAM METHOD for IDENT failed (exit N): <end of stderr>", cut at the start of the
 * quote when the whole does not fit: the end of stderr is what explains a failure. */
static int hook_error(const struct hook *h, const char *method, const struct acme_challenge_data *c,
                      const struct spawn_result *res, struct errbuf *err)
{
    char how[HOOK_HOW_MAX], what[ERRBUF_SIZE];

    spawn_describe(res, h->timeout_s, how, sizeof(how));
    snprintf(what, sizeof(what), "%s hook %s %s for %s%s %s", c->type, h->program, method,
             is_wildcard(c) ? WILDCARD_PREFIX : "", base_identifier(c), how);
    return spawn_quote_tail(err, what, res);
}

/* Run HOOK METHOD TYPE IDENT TOKEN AUTH and wait for it. 0 when it exits with status 0. */
static int hook_run(const struct hook *h, const char *method, const struct acme_challenge_data *c,
                    struct errbuf *err)
{
    struct spawn_env env = {0};
    char *argv[] = {h->program,
                    (char *)method,
                    (char *)c->type,
                    (char *)base_identifier(c),
                    (char *)c->token,
                    (char *)auth_of(c),
                    NULL};
    /* done/failed withdraws what begin published: it runs even when ccs is stopping (spawn.h). */
    struct spawn_options opts = {.program = h->program,
                                 .argv = argv,
                                 .timeout_s = h->timeout_s,
                                 .cleanup = strcmp(method, "begin") != 0};
    struct spawn_result res;
    int rc = -1;

    if (env_build(&env, method, c) < 0) {
        errbuf_set(err, "%s hook for %s: out of memory", c->type, c->identifier);
        goto out;
    }
    opts.envp = env.vars;
    log_debug("running %s hook %s %s for %s", c->type, h->program, method, c->identifier);
    switch (spawn_run(&opts, &res)) {
    case SPAWN_NO_PIPE:
        errbuf_set_errno(err, "%s hook %s: cannot create a pipe", c->type, h->program);
        goto out;
    case SPAWN_NOT_RUN:
        errbuf_set_errno(err, "%s hook %s %s for %s: cannot run it", c->type, h->program, method,
                         c->identifier);
        goto out;
    case SPAWN_RAN:
        break;
    }
    if (!spawn_succeeded(&res)) {
        hook_error(h, method, c, &res, err);
        goto out;
    }
    rc = 0;
out:
    spawn_env_free(&env);
    return rc;
}

static int hook_begin(struct challenge_solver *s, const struct acme_challenge_data *c,
                      struct errbuf *err)
{
    if (check_challenge(c, err) < 0)
        return -1;
    return hook_run(s->impl, "begin", c, err);
}

/* A failure here is reported, and affects nothing else: each finish runs its own hook. */
static int hook_finish(struct challenge_solver *s, const struct acme_challenge_data *c,
                       int succeeded, struct errbuf *err)
{
    if (check_challenge(c, err) < 0)
        return -1;
    return hook_run(s->impl, succeeded ? "done" : "failed", c, err);
}

static void hook_destroy(struct challenge_solver *s)
{
    struct hook *h = s->impl;

    if (!h)
        return;
    free(h->program);
    free(h);
    s->impl = NULL;
}

static const struct challenge_solver_ops dns01_hook_ops = {
    .type = "dns-01",
    .begin = hook_begin,
    .finish = hook_finish,
    .destroy = hook_destroy,
};

static int hook_new(const struct challenge_solver_ops *ops, const char *program, int timeout_s,
                    struct challenge_solver *out, struct errbuf *err)
{
    char label[HOOK_LABEL_MAX];
    struct hook *h;

    out->ops = NULL;
    out->impl = NULL;
    /* Checked now, so a typo is reported before an order is placed, not at the first begin. */
    snprintf(label, sizeof(label), "%s hook", ops->type);
    if (spawn_check_program(label, program, err) < 0)
        return -1;
    if (timeout_s <= 0)
        return errbuf_set(err, "%s hook %s: timeout %d s is not positive", ops->type, program,
                          timeout_s);
    h = calloc(1, sizeof(*h));
    if (!h || !(h->program = strdup(program))) {
        free(h);
        return errbuf_set(err, "%s hook %s: out of memory", ops->type, program);
    }
    h->timeout_s = timeout_s;
    out->ops = ops;
    out->impl = h;
    return 0;
}

int challenge_dns01_hook_new(const char *hook_program, int timeout_s, struct challenge_solver *out,
                             struct errbuf *err)
{
    return hook_new(&dns01_hook_ops, hook_program, timeout_s, out, err);
}
