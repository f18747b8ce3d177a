/* pfx_forge — write a PFX laid out as other writers (and attackers) do, for the end-to-end tests:
 *
 *   pfx_forge --cert LEAF.pem --key LEAF.key [--chain CA.pem] --password-file PW --out F.pfx
 *             [--aes256] [--mac-iter N] [--key-iter N] [--cert-iter N]
 *             [--key-id leaf|none|chain] [--leaf-last] [--extra-key OTHER.key] [--uncomputed]
 *
 * Built with OpenSSL's PKCS#12 API by tests/unit/pfxforge.c (which says how a count too large to
 * compute is written; --uncomputed writes every count that way). The password file's first line is
 * the password. Exit 0 or 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "pfxforge.h"
#include "store/pfx.h"
#include "util/bytes.h"

static int read_file(const char *path, struct bytes *out)
{
    struct errbuf err;
    if (bytes_read_file(path, CERT_INPUT_MAX, out, &err) < 0) {
        fprintf(stderr, "pfx_forge: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static char *first_line(const char *path)
{
    struct bytes b = {0};
    char *line;

    if (read_file(path, &b) < 0)
        return NULL;
    /* not strndup: the file's bytes are not NUL-terminated */
    line = malloc(b.len + 1);
    if (line) {
        memcpy(line, b.data, b.len);
        line[b.len] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
    }
    bytes_free(&b);
    return line;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!key)
        fprintf(stderr, "pfx_forge: %s: no PEM private key\n", path);
    return key;
}

static int write_file(const char *path, const struct bytes *b)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"chain", required_argument, NULL, 'C'},
        {"password-file", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"aes256", no_argument, NULL, 'a'},
        {"mac-iter", required_argument, NULL, 'm'},
        {"key-iter", required_argument, NULL, 'K'},
        {"cert-iter", required_argument, NULL, 'I'},
        {"key-id", required_argument, NULL, 'i'},
        {"leaf-last", no_argument, NULL, 'l'},
        {"extra-key", required_argument, NULL, 'x'},
        {"uncomputed", no_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    const char *cert = NULL, *key = NULL, *chain = NULL, *pwfile = NULL, *outfile = NULL,
               *extra = NULL;
    struct pfxforge f = {0};
    struct bytes cert_pem = {0}, key_pem = {0}, chain_pem = {0}, der = {0};
    struct pfx_bundle bundle = {0};
    struct errbuf err;
    char *password = NULL;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'C':
            chain = optarg;
            break;
        case 'p':
            pwfile = optarg;
            break;
        case 'o':
            outfile = optarg;
            break;
        case 'a':
            f.aes256 = 1;
            break;
        case 'm':
            f.mac_iter = strtoll(optarg, NULL, 10);
            break;
        case 'K':
            f.key_iter = strtoll(optarg, NULL, 10);
            break;
        case 'I':
            f.cert_iter = strtoll(optarg, NULL, 10);
            break;
        case 'l':
            f.leaf_last = 1;
            break;
        case 'x':
            extra = optarg;
            break;
        case 'u':
            f.uncomputed = 1;
            break;
        case 'i':
            f.key_id = strcmp(optarg, "none") == 0    ? PFXFORGE_ID_NONE
                       : strcmp(optarg, "chain") == 0 ? PFXFORGE_ID_CHAIN
                                                      : PFXFORGE_ID_LEAF;
            break;
        default:
            fprintf(stderr, "pfx_forge: unknown option\n");
            return 1;
        }
    }
    if (!cert || !key || !pwfile || !outfile) {
        fprintf(stderr, "pfx_forge: --cert, --key, --password-file and --out are required\n");
        return 1;
    }
    if (pfx_crypto_init(&err) < 0 || read_file(cert, &cert_pem) < 0 ||
        read_file(key, &key_pem) < 0 || (chain && read_file(chain, &chain_pem) < 0) ||
        !(password = first_line(pwfile)))
        goto out;
    if (pfx_bundle_from_pem((struct pem_input){&cert_pem, cert}, (struct pem_input){&key_pem, key},
                            chain ? &(struct pem_input){&chain_pem, chain} : NULL, &bundle,
                            &err) < 0) {
        fprintf(stderr, "pfx_forge: %s\n", err.msg);
        goto out;
    }
    if (extra && !(f.extra_key = read_key(extra)))
        goto out;
    f.bundle = &bundle;
    f.password = password;
    pfxforge(&f, &der);
    rc = write_file(outfile, &der) < 0;
out:
    EVP_PKEY_free(f.extra_key);
    pfx_bundle_free(&bundle);
    bytes_free(&cert_pem);
    bytes_free(&key_pem);
    bytes_free(&chain_pem);
    bytes_free(&der);
    free(password);
    return rc;
}
