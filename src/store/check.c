#include "store/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/inspect.h"

static int add(struct check_report *r, const char *file, enum check_severity sev, const char *code,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add(struct check_report *r, const char *file, enum check_severity sev, const char *code,
               const char *fmt, ...)
{
    struct check_finding *grown = realloc(r->items, (r->count + 1) * sizeof(*grown));
    va_list ap;

    if (!grown)
        return -1;
    r->items = grown;
    grown += r->count++;
    snprintf(grown->file, sizeof(grown->file), "%s", file);
    grown->severity = sev;
    grown->code = code;
    va_start(ap, fmt);
    vsnprintf(grown->message, sizeof(grown->message), fmt, ap);
    va_end(ap);
    if (sev == CHECK_ERROR)
        r->errors++;
    else
        r->warnings++;
    return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

const char *store_mode_problem(unsigned mode)
{
    if (mode & 0002)
        return "writable by everyone";
    if (mode & 0020)
        return "writable by the group";
    if (mode & 0004)
        return "readable by every local user";
    return NULL;
}

/* Permissions: a writable file lets anyone who can write it choose what every server serves; a
 * world-readable one hands the (password-protected) key to every local user. */
static int check_mode(struct check_report *r, const struct store_entry *e)
{
    const char *problem = store_mode_problem(e->mode);

    if (!problem)
        return 0;
    return add(r, e->name, CHECK_ERROR, (e->mode & 0022) ? "writable" : "world-readable",
               "mode %04o: %s; use 0640 or stricter", e->mode, problem);
}

/* The file name must be a normalised host name that the certificate holds, or no server will find
 * it (ccs serve lower-cases and normalises the SNI before looking). */
static int check_file_name(struct check_report *r, const char *file, const struct pfx_inspection *insp)
{
    size_t stem_len = strlen(file) - strlen(STORE_FILE_SUFFIX);
    char stem[STORE_NAME_BUF + 8];
    struct store_name name;
    struct errbuf err;

    snprintf(stem, sizeof(stem), "%.*s", (int)stem_len, file);
    if (strncmp(stem, "_.", 2) == 0)
        stem[0] = '*';
    if (store_name_normalise(stem, strlen(stem), &name, &err) < 0)
        return add(r, file, CHECK_ERROR, "bad-file-name",
                   "the file name is not a valid host name, so no server will look it up: %s",
                   err.msg);
    if (strcmp(name.file, file) != 0)
        return add(r, file, CHECK_ERROR, "bad-file-name",
                   "the file name is not in normalised form; servers look for \"%s\"", name.file);
    if (!cert_names_find_file(&insp->names, file)) {
        char list[600] = "";
        size_t o = 0;
        for (size_t i = 0; i < insp->names.count && o < sizeof(list) - 1; i++)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                                  insp->names.names[i].unicode);
        return add(r, file, CHECK_ERROR, "name-mismatch",
                   "the certificate is not for %s (it names: %s)", name.unicode,
                   list[0] ? list : "no host name");
    }
    return 0;
}

/* Windows and Java pair the key with its certificate by localKeyID (field notes §4): a key the
 * leaf's localKeyID does not name imports as a certificate without a private key, which IIS loads
 * and cannot bind — however well the key matches. */
static int check_pairing(struct check_report *r, const char *file, const struct pfx_decoded *d)
{
    static const char *const codes[] = {
        [PFX_PAIR_NO_KEY_ID] = "no-key-id",
        [PFX_PAIR_OTHER_CERT] = "key-id-on-chain",
        [PFX_PAIR_UNMATCHED] = "key-id-unmatched",
    };

    if (d->bundle.key && d->key_matches && d->pairing != PFX_PAIRED &&
        d->pairing != PFX_PAIR_NO_KEY &&
        add(r, file, CHECK_ERROR, codes[d->pairing],
            "%s: IIS (and Java) pair a key with its certificate by localKeyID, so the certificate "
            "loads without its private key; a redeploy from it writes it paired",
            pfx_pairing_text(d->pairing)) < 0)
        return -1;
    if (d->key_count > 1 &&
        add(r, file, CHECK_WARNING, "several-keys",
            "holds %d private keys; judged by the one paired with the leaf by localKeyID",
            d->key_count) < 0)
        return -1;
    if (!d->leaf_first &&
        add(r, file, CHECK_WARNING, "leaf-not-first",
            "the leaf is not the first certificate in the file; some readers (Mono, older Go "
            "libraries) take the first certificate for the leaf") < 0)
        return -1;
    return 0;
}

static int check_pfx_contents(struct check_report *r, const char *file,
                              const struct pfx_inspection *insp, const struct check_options *opts)
{
    const struct cert_summary *s = &insp->summary;
    char when[32];
    long days;

    format_utc(s->not_after, when, sizeof(when));
    days = days_until(s->not_after, opts->now);
    if (check_file_name(r, file, insp) < 0)
        return -1;
    if (!insp->decoded.bundle.key && add(r, file, CHECK_ERROR, "no-key", "holds no private key") < 0)
        return -1;
    if (insp->decoded.bundle.key && !insp->decoded.key_matches &&
        add(r, file, CHECK_ERROR, "key-mismatch",
            "the private key does not match the certificate %s", s->subject) < 0)
        return -1;
    if (check_pairing(r, file, &insp->decoded) < 0)
        return -1;
    if (!insp->chain_has_issuer &&
        add(r, file, CHECK_ERROR, "chain-incomplete",
            "the chain lacks the certificate's issuer (%s); clients without it cached will fail",
            s->issuer) < 0)
        return -1;
    if (s->not_after <= opts->now) {
        if (add(r, file, CHECK_ERROR, "expired", "expired on %s (%ld days ago)", when, -days) < 0)
            return -1;
    } else if (days < opts->warn_days) {
        if (add(r, file, CHECK_WARNING, "expiring", "expires on %s, in %ld days", when, days) < 0)
            return -1;
    }
    if (s->not_before > opts->now) {
        char from[32];
        format_utc(s->not_before, from, sizeof(from));
        if (add(r, file, CHECK_ERROR, "not-yet-valid", "not valid before %s", from) < 0)
            return -1;
    }
    if (insp->decoded.format == PFX_FORMAT_AES256)
        return add(r, file, CHECK_WARNING, "aes-format",
                   "AES-256 format (%s): Windows Server 2016 and older cannot import it",
                   insp->decoded.algorithms);
    if (insp->decoded.format != PFX_FORMAT_COMPAT)
        return add(r, file, CHECK_WARNING, "other-format",
                   "%s format (%s): ccs writes compat or aes256",
                   pfx_format_name(insp->decoded.format), insp->decoded.algorithms);
    return 0;
}

static int check_pfx_file(struct store *st, struct check_report *r, const struct store_entry *e,
                          const struct check_options *opts)
{
    struct pfx_inspection insp;
    struct bytes data = {0};
    struct errbuf err;
    int missing, rc;

    r->pfx_files++;
    /* Only where files have modes: a share's permissions are the server's ACLs, not ours to
     * judge from mode bits the backend would have to invent. */
    if (store_has(st, STORE_CAP_POSIX_MODE) && check_mode(r, e) < 0)
        return -1;
    if (store_read(st, e->name, CERT_INPUT_MAX, &data, &missing, &err) < 0)
        return add(r, e->name, CHECK_ERROR, "unreadable", "%s", err.msg);
    if (missing)
        return 0; /* removed since the listing */
    store_inspect_bytes(data.data, data.len, opts->password, &insp);
    bytes_free(&data);
    if (insp.status != PFX_OK) {
        static const char *const codes[] = {
            [PFX_NOT_PKCS12] = "not-pkcs12",         [PFX_TRUNCATED] = "truncated",
            [PFX_WRONG_PASSWORD] = "wrong-password", [PFX_DAMAGED] = "damaged",
            [PFX_NO_CERT] = "no-certificate",        [PFX_TOO_COSTLY] = "too-costly",
        };
        rc = add(r, e->name, CHECK_ERROR, codes[insp.status], "%s", insp.error);
    } else {
        rc = check_pfx_contents(r, e->name, &insp, opts);
    }
    pfx_inspection_free(&insp);
    return rc;
}

static int check_entry(struct store *st, struct check_report *r, const struct store_entry *e,
                       const struct check_options *opts)
{
    if (strcmp(e->name, STORE_LOCK_FILE) == 0)
        return 0; /* the writers' lease (lease.c): present while a deploy runs */
    if (store_is_temp_name(e->name))
        return add(r, e->name, CHECK_WARNING, "temp-file",
                   "leftover temporary file (a deploy in progress, or one that was killed); "
                   "safe to delete when no deploy runs");
    if (e->type == STORE_ENTRY_SYMLINK)
        return add(r, e->name, CHECK_ERROR, "symlink",
                   "symbolic link to \"%s\": not followed (servers reading the store must not "
                   "be steered outside it); store a copy instead",
                   e->link_target);
    if (!has_suffix(e->name, STORE_FILE_SUFFIX))
        return add(r, e->name, CHECK_WARNING, "not-pfx", "not a .pfx file; servers ignore it");
    if (e->type != STORE_ENTRY_FILE)
        return add(r, e->name, CHECK_ERROR, "not-a-file", "named .pfx but not a regular file");
    return check_pfx_file(st, r, e, opts);
}

int store_check(struct store *st, const struct check_options *opts, struct check_report *out,
                struct errbuf *err)
{
    struct store_entries entries;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (store_list(st, &entries, err) < 0)
        return -1;
    for (size_t i = 0; i < entries.count && rc == 0; i++)
        rc = check_entry(st, out, &entries.items[i], opts);
    store_entries_free(&entries);
    if (rc < 0) {
        check_report_free(out);
        return errbuf_set(err, "out of memory checking store %s", store_display_name(st));
    }
    return 0;
}

void check_report_free(struct check_report *r)
{
    free(r->items);
    memset(r, 0, sizeof(*r));
}
