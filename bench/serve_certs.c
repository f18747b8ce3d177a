/* bench/serve_certs.c — the certificates of bench/serve-vs-peers: one CA, then COUNT single-name
 * leaves `PREFIX<000001>.DOMAIN` .. signed by it, written twice: as PEM for the peers (key, leaf and
 * CA certificate in one file: what HAProxy's `crt DIR` and hitch's `pem-file` take) and as PFX store
 * files for ccs (`NAME.pfx`, compat format, the store password). The same keys and certificates in
 * both, so the servers send the same bytes.
 *
 * usage: bench_serve_certs --dir DIR --count N [--key ec|rsa] [--prefix P] [--domain D]
 *                          [--password-file F] [--threads T]
 * DIR gets ca.pem and ca.key (made on the first call, reused by later ones: one CA for every set),
 * pem/NAME.pem, store/NAME.pfx and PREFIX.names (the host names, one a line). An existing set of N
 * or larger (PREFIX.ready holds its size) is kept: generating 100,000 takes a while. The first N
 * lines of PREFIX.names are the set of N.
 *
 * Keys: every ECDSA P-256 leaf has its own key (a key takes ~20 µs). RSA-2048 leaves share one key:
 * RSA key generation takes ~50-100 ms each, and nothing measured depends on distinct keys (the
 * handshake signs with the leaf's key whatever it is; the RSA set is only used for handshakes).
 *
 * Key and certificate making is serialised (tests/unit/testcert.c is not thread-safe and takes
 * ~0.1 ms); the PFX encoding (2 x 2048 PBE iterations plus 2048 for the MAC: ~1-2 ms) and the writes
 * run in T threads (default: the online CPUs). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "store/pfx.h"
#include "testcert.h"

#define HOST_MAX 128
#define PATH_MAX_LEN 4096
#define MAX_THREADS 64
#define RSA_BITS 2048
/* Validity: an hour back (clock skew), 90 days ahead, as an ACME certificate. */
#define NOT_BEFORE_S 3600
#define NOT_AFTER_S (90 * 86400L)

struct config {
    const char *dir, *prefix, *domain, *password_file;
    long count;
    int rsa, threads;
};

struct shared {
    const struct config *cfg;
    struct test_ca ca;
    EVP_PKEY *rsa_key; /* the one RSA key of the RSA set */
    char password[256];
    pthread_mutex_t make_lock; /* testcert is not thread-safe */
    pthread_mutex_t next_lock;
    long next;
    int failed;
};

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench_serve_certs: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void host_name(const struct config *cfg, long i, char *out, size_t len)
{
    snprintf(out, len, "%s%06ld.%s", cfg->prefix, i + 1, cfg->domain);
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = data;

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

/* key, leaf, CA: the order HAProxy and hitch both read */
static int write_pem(const char *path, const struct pfx_bundle *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc = -1;

    if (!bio)
        return -1;
    if (PEM_write_bio_PrivateKey(bio, b->key, NULL, NULL, 0, NULL, NULL) &&
        PEM_write_bio_X509(bio, b->cert)) {
        rc = 0;
        for (int i = 0; i < sk_X509_num(b->chain); i++)
            if (!PEM_write_bio_X509(bio, sk_X509_value(b->chain, i)))
                rc = -1;
    }
    len = BIO_get_mem_data(bio, &data);
    if (rc == 0)
        rc = write_file(path, data, (size_t)len);
    BIO_free(bio);
    return rc;
}

/* The RSA set: testcert's P-256 leaf with its key swapped for the shared RSA key, signed again. */
static void use_rsa_key(struct shared *s, struct pfx_bundle *b)
{
    EVP_PKEY_free(b->key);
    EVP_PKEY_up_ref(s->rsa_key);
    b->key = s->rsa_key;
    if (!X509_set_pubkey(b->cert, b->key) || !X509_sign(b->cert, s->ca.key, EVP_sha256()))
        die("%s", "signing an RSA leaf failed");
}

static int make_one(struct shared *s, long i)
{
    const struct config *cfg = s->cfg;
    char host[HOST_MAX], san[HOST_MAX + 8], path[PATH_MAX_LEN];
    struct pfx_bundle b;
    struct bytes pfx = {0};
    struct errbuf err;
    time_t now = time(NULL);
    int rc = 0;

    host_name(cfg, i, host, sizeof(host));
    snprintf(san, sizeof(san), "DNS:%s", host);
    pthread_mutex_lock(&s->make_lock);
    testcert_leaf(&b, &s->ca, host, san, now - NOT_BEFORE_S, now + NOT_AFTER_S);
    if (cfg->rsa)
        use_rsa_key(s, &b);
    pthread_mutex_unlock(&s->make_lock);

    snprintf(path, sizeof(path), "%s/pem/%s.pem", cfg->dir, host);
    if (write_pem(path, &b) != 0) {
        fprintf(stderr, "bench_serve_certs: cannot write %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && pfx_encode(&b, s->password, PFX_FORMAT_COMPAT, host, &pfx, &err) != 0) {
        fprintf(stderr, "bench_serve_certs: %s: %s\n", host, err.msg);
        rc = -1;
    }
    snprintf(path, sizeof(path), "%s/store/%s.pfx", cfg->dir, host);
    if (rc == 0 && write_file(path, pfx.data, pfx.len) != 0) {
        fprintf(stderr, "bench_serve_certs: cannot write %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    bytes_free(&pfx);
    pfx_bundle_free(&b);
    return rc;
}

static void *worker(void *arg)
{
    struct shared *s = arg;

    for (;;) {
        long i;
        pthread_mutex_lock(&s->next_lock);
        i = s->failed ? s->cfg->count : s->next++;
        pthread_mutex_unlock(&s->next_lock);
        if (i >= s->cfg->count)
            return NULL;
        if (make_one(s, i) != 0) {
            pthread_mutex_lock(&s->next_lock);
            s->failed = 1;
            pthread_mutex_unlock(&s->next_lock);
        }
    }
}

static void read_password(const char *file, char *out, size_t len)
{
    FILE *f = fopen(file, "r");
    size_t n;

    if (!f)
        die("cannot open the password file %s", file);
    n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\n') /* one trailing newline dropped, as ccs does */
        out[n - 1] = '\0';
}

/* The CA of DIR: loaded when ca.pem and ca.key exist, else made and written. */
static void load_or_make_ca(const char *dir, struct test_ca *ca)
{
    char cert_path[PATH_MAX_LEN], key_path[PATH_MAX_LEN];
    FILE *cf, *kf;

    snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
    cf = fopen(cert_path, "r");
    kf = fopen(key_path, "r");
    if (cf && kf) {
        ca->cert = PEM_read_X509(cf, NULL, NULL, NULL);
        ca->key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
        fclose(cf);
        fclose(kf);
        if (!ca->cert || !ca->key)
            die("cannot read the CA in %s (ca.pem, ca.key)", dir);
        return;
    }
    if (cf)
        fclose(cf);
    if (kf)
        fclose(kf);
    testcert_ca(ca, "Bench Serve CA");
    cf = fopen(cert_path, "w");
    kf = fopen(key_path, "w");
    if (!cf || !kf || !PEM_write_X509(cf, ca->cert) ||
        !PEM_write_PrivateKey(kf, ca->key, NULL, NULL, 0, NULL, NULL))
        die("cannot write the CA into %s", dir);
    fclose(cf);
    fclose(kf);
}

static long ready_count(const struct config *cfg)
{
    char path[PATH_MAX_LEN];
    long n = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.ready", cfg->dir, cfg->prefix);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &n) != 1)
        n = -1;
    fclose(f);
    return n;
}

static void write_names_and_ready(const struct config *cfg)
{
    char path[PATH_MAX_LEN], host[HOST_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.names", cfg->dir, cfg->prefix);
    f = fopen(path, "w");
    if (!f)
        die("cannot write %s", path);
    for (long i = 0; i < cfg->count; i++) {
        host_name(cfg, i, host, sizeof(host));
        fprintf(f, "%s\n", host);
    }
    if (fclose(f) != 0)
        die("cannot write %s", path);
    snprintf(path, sizeof(path), "%s/%s.ready", cfg->dir, cfg->prefix);
    f = fopen(path, "w");
    if (!f)
        die("cannot write %s", path);
    fprintf(f, "%ld\n", cfg->count);
    fclose(f);
}

static void make_dir(const char *dir, const char *sub)
{
    char path[PATH_MAX_LEN];

    snprintf(path, sizeof(path), "%s%s%s", dir, *sub ? "/" : "", sub);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        die("cannot create %s", path);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_serve_certs --dir DIR --count N [--key ec|rsa] [--prefix P]\n"
                    "                         [--domain D] [--password-file F] [--threads T]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},     {"count", required_argument, NULL, 'n'},
        {"key", required_argument, NULL, 'k'},     {"prefix", required_argument, NULL, 'p'},
        {"domain", required_argument, NULL, 'D'},  {"password-file", required_argument, NULL, 'P'},
        {"threads", required_argument, NULL, 't'}, {NULL, 0, NULL, 0},
    };
    struct config cfg = {NULL, "h", "bench.test", NULL, 0, 0, 0};
    struct shared s;
    pthread_t threads[MAX_THREADS];
    struct errbuf err;
    struct timespec t0, t1;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg.dir = optarg; break;
        case 'n': cfg.count = strtol(optarg, NULL, 10); break;
        case 'k':
            if (strcmp(optarg, "ec") != 0 && strcmp(optarg, "rsa") != 0)
                die("--key takes ec or rsa, not %s", optarg);
            cfg.rsa = strcmp(optarg, "rsa") == 0;
            break;
        case 'p': cfg.prefix = optarg; break;
        case 'D': cfg.domain = optarg; break;
        case 'P': cfg.password_file = optarg; break;
        case 't': cfg.threads = atoi(optarg); break;
        default: usage();
        }
    }
    if (!cfg.dir || cfg.count <= 0 || optind != argc)
        usage();
    if (cfg.threads <= 0)
        cfg.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg.threads > MAX_THREADS)
        cfg.threads = MAX_THREADS;
    if (ready_count(&cfg) >= cfg.count) { /* names are numbered: a larger set holds this one */
        printf("%ld %s names: already in %s\n", cfg.count, cfg.rsa ? "RSA-2048" : "P-256", cfg.dir);
        return 0;
    }

    memset(&s, 0, sizeof(s));
    s.cfg = &cfg;
    if (cfg.password_file)
        read_password(cfg.password_file, s.password, sizeof(s.password));
    if (pfx_crypto_init(&err) != 0)
        die("%s", err.msg);
    make_dir(cfg.dir, "");
    make_dir(cfg.dir, "pem");
    make_dir(cfg.dir, "store");
    load_or_make_ca(cfg.dir, &s.ca);
    if (cfg.rsa)
        s.rsa_key = testcert_key(RSA_BITS);
    pthread_mutex_init(&s.make_lock, NULL);
    pthread_mutex_init(&s.next_lock, NULL);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < cfg.threads; t++)
        if (pthread_create(&threads[t], NULL, worker, &s) != 0)
            die("%s", "pthread_create failed");
    for (int t = 0; t < cfg.threads; t++)
        pthread_join(threads[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (s.failed)
        die("%s", "stopped after an error (above)");
    write_names_and_ready(&cfg);
    printf("%ld %s names made in %.1f s (%d threads) in %s\n", cfg.count,
           cfg.rsa ? "RSA-2048" : "P-256", (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, cfg.threads, cfg.dir);
    EVP_PKEY_free(s.rsa_key);
    testcert_ca_free(&s.ca);
    return 0;
}
