#include "cli/cli.h"

#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/pfx.h"
#include "util/log.h"

int cli_load_store_password(const char *path_option, struct secret *out)
{
    struct secret_source src = {
        .what = "PFX password",
        .option = "--password-file",
        .path = path_option,
        .env_var = PFX_PASSWORD_ENV,
        .credential_name = PFX_PASSWORD_CREDENTIAL,
    };
    struct errbuf err;

    if (secret_load(&src, out, &err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    if (out->len == 0)
        log_warning("the store password (from %s) is empty: IIS accepts that, but anyone who can "
                    "read a store file then holds its private key",
                    out->origin);
    return 0;
}

int cli_crypto_init(void)
{
    struct errbuf err;
    if (pfx_crypto_init(&err) < 0) {
        log_error("%s", err.msg);
        return -1;
    }
    return 0;
}

void cli_print_json(json_t *j)
{
    if (!j) {
        log_error("out of memory building JSON output");
        return;
    }
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    fputs("ccs: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return EXIT_FAILED;
}

int cli_parse_mode(const char *text, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(text, &end, 8);
    if (!*text || *end || v > 0777)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int cli_parse_group(const char *text, long *out)
{
    struct group *g;
    char *end;
    long v = strtol(text, &end, 10);

    if (*text && !*end && v >= 0) {
        *out = v;
        return 0;
    }
    g = getgrnam(text);
    if (!g)
        return -1;
    *out = (long)g->gr_gid;
    return 0;
}

int cli_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO);
}
