#include "acme/account_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "util/bytes.h"
#include "util/fileio.h"

/* "acme-v02.api.letsencrypt.org-1a2b3c4d5e6f": readable, and unique per directory URL. */
static void slug_for(const char *url, char *out, size_t size)
{
    unsigned char md[32];
    const char *host = strstr(url, "://");
    size_t o = 0;

    host = host ? host + 3 : url;
    for (; *host && *host != '/' && o + 1 < size && o < 64; host++)
        out[o++] = (*host == ':' ? '_' : (*host >= 'a' && *host <= 'z') ||
                                                  (*host >= '0' && *host <= '9') || *host == '.' ||
                                                  *host == '-'
                                              ? *host
                                              : '_');
    EVP_Digest(url, strlen(url), md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 6 && o + 3 < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%s%02x", i ? "" : "-", md[i]);
    out[o] = '\0';
}

int account_paths_for(const char *state_dir, const char *directory_url, int create,
                      struct account_paths *out, struct errbuf *err)
{
    char slug[128];

    slug_for(directory_url, slug, sizeof(slug));
    if (snprintf(out->dir, sizeof(out->dir), "%s/accounts/%s", state_dir, slug) >=
        (int)sizeof(out->dir))
        return errbuf_set(err, "state directory path too long");
    snprintf(out->key, sizeof(out->key), "%s/%s", out->dir, ACCOUNT_KEY_FILE);
    snprintf(out->new_key, sizeof(out->new_key), "%s/%s", out->dir, ACCOUNT_NEW_KEY_FILE);
    snprintf(out->info, sizeof(out->info), "%s/%s", out->dir, ACCOUNT_INFO_FILE);
    if (create && dir_create(out->dir, 0700, err) < 0)
        return -1;
    return 0;
}

int account_info_load(const struct account_paths *p, char **kid, struct errbuf *err)
{
    struct bytes data = {0};
    json_t *root, *url;

    *kid = NULL;
    if (bytes_read_file(p->info, 64 * 1024, &data, err) < 0)
        return errno == ENOENT ? 0 : -1;
    root = json_loadb((const char *)data.data, data.len, 0, NULL);
    bytes_free(&data);
    url = root ? json_object_get(root, "url") : NULL;
    if (!json_is_string(url)) {
        json_decref(root);
        return errbuf_set(err, "%s: not an account record (no \"url\")", p->info);
    }
    *kid = strdup(json_string_value(url));
    json_decref(root);
    return *kid ? 0 : errbuf_set(err, "out of memory");
}

int account_info_save(const struct account_paths *p, const char *directory_url, const char *kid,
                      const char *status, struct errbuf *err)
{
    char when[32];
    time_t now = time(NULL);
    json_t *root;
    char *text;
    int rc;

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    root = json_pack("{s:s, s:s, s:s, s:s}", "directory", directory_url, "url", kid, "status",
                     status ? status : "valid", "updated", when);
    text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    if (!text)
        return errbuf_set(err, "out of memory");
    rc = file_write_atomic(p->info, (const unsigned char *)text, strlen(text), 0600, err);
    free(text);
    return rc;
}
