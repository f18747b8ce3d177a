#include "acme/key.h"

#include <errno.h>
#include <string.h>

#include <openssl/pem.h>

#include "util/bytes.h"
#include "util/fileio.h"

static const struct {
    const char *name;
    enum key_type type;
} key_types[] = {
    {"ec-p256", KEY_EC_P256},   {"ec-p384", KEY_EC_P384},   {"rsa-2048", KEY_RSA_2048},
    {"rsa-3072", KEY_RSA_3072}, {"rsa-4096", KEY_RSA_4096},
};

int key_type_parse(const char *text, enum key_type *out)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strcmp(text, key_types[i].name) == 0) {
            *out = key_types[i].type;
            return 0;
        }
    return -1;
}

const char *key_type_name(enum key_type type)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (key_types[i].type == type)
            return key_types[i].name;
    return "?";
}

int key_generate(enum key_type type, EVP_PKEY **out, struct errbuf *err)
{
    switch (type) {
    case KEY_EC_P256:
        *out = EVP_EC_gen("P-256");
        break;
    case KEY_EC_P384:
        *out = EVP_EC_gen("P-384");
        break;
    case KEY_RSA_2048:
        *out = EVP_RSA_gen(2048);
        break;
    case KEY_RSA_3072:
        *out = EVP_RSA_gen(3072);
        break;
    case KEY_RSA_4096:
        *out = EVP_RSA_gen(4096);
        break;
    default:
        *out = NULL;
    }
    if (!*out)
        return errbuf_set_ssl(err, "cannot generate a %s key", key_type_name(type));
    return 0;
}

int key_save(EVP_PKEY *key, const char *path, struct errbuf *err)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc = -1;

    if (!mem || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
        errbuf_set_ssl(err, "%s: cannot encode the key", path);
        goto out;
    }
    len = BIO_get_mem_data(mem, &data);
    rc = file_write_atomic(path, (const unsigned char *)data, (size_t)len, 0600, err);
out:
    BIO_free_all(mem); /* BIO_s_mem frees (and does not cleanse) its buffer; keys are short-lived */
    return rc;
}

int key_load(const char *path, EVP_PKEY **out, int *missing, struct errbuf *err)
{
    struct bytes pem = {0};
    BIO *mem;

    *out = NULL;
    if (missing)
        *missing = 0;
    if (bytes_read_file(path, 64 * 1024, &pem, err) < 0) {
        if (missing && errno == ENOENT)
            *missing = 1;
        return -1;
    }
    mem = BIO_new_mem_buf(pem.data, (int)pem.len);
    *out = mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
    BIO_free(mem);
    bytes_free(&pem);
    if (!*out)
        return errbuf_set_ssl(err, "%s: not a PEM private key", path);
    return 0;
}
