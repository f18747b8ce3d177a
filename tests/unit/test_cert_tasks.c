/* Unit tests for src/manage/cert_tasks.c: each certificate's tasks in configuration order, checked
 * against a plain scan of every task, with tasks of different certificates interleaved, a
 * certificate without tasks, and a task naming no certificate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manage/cert_tasks.h"

#define CERTS 50
#define TASKS 400

/* A configuration made by hand (no index: config_find_certificate searches it linearly). */
struct fixture {
    struct config cfg;
    struct config_certificate certs[CERTS];
    struct config_task tasks[TASKS];
    char cert_names[CERTS][16], task_names[TASKS][16], task_certs[TASKS][16];
};

static void make(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t c = 0; c < CERTS; c++) {
        snprintf(f->cert_names[c], sizeof(f->cert_names[c]), "c%zu", c);
        f->certs[c].name = f->cert_names[c];
    }
    for (size_t t = 0; t < TASKS; t++) {
        /* Certificates in a scrambled order; c7 gets none; every 50th task names no certificate. */
        size_t c = (t * 37 + 11) % CERTS;
        if (c == 7)
            c = 8;
        snprintf(f->task_names[t], sizeof(f->task_names[t]), "t%zu", t);
        if (t % 50 == 49)
            snprintf(f->task_certs[t], sizeof(f->task_certs[t]), "gone");
        else
            snprintf(f->task_certs[t], sizeof(f->task_certs[t]), "c%zu", c);
        f->tasks[t].name = f->task_names[t];
        f->tasks[t].certificate = f->task_certs[t];
    }
    f->cfg.certificates = f->certs;
    f->cfg.certificate_count = CERTS;
    f->cfg.tasks = f->tasks;
    f->cfg.task_count = TASKS;
}

static void test_lists_match_a_scan(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct cert_tasks ct;
    size_t listed = 0;
    (void)state;

    make(f);
    assert_int_equal(cert_tasks_build(&f->cfg, &ct), 0);
    for (size_t c = 0; c < CERTS; c++) {
        size_t t = ct.first[c];
        /* The scan: every task of c, in configuration order; the list must be exactly that. */
        for (size_t k = 0; k < TASKS; k++) {
            if (strcmp(f->tasks[k].certificate, f->cert_names[c]) != 0)
                continue;
            assert_int_not_equal(t, CERT_TASKS_END);
            assert_int_equal(t, k);
            t = ct.next[t];
            listed++;
        }
        assert_int_equal(t, CERT_TASKS_END);
    }
    assert_int_equal(ct.first[7], CERT_TASKS_END); /* no tasks */
    assert_int_equal(listed, TASKS - TASKS / 50);  /* the "gone" tasks are in no list */
    cert_tasks_free(&ct);
    cert_tasks_free(&ct); /* twice is harmless */
    free(f);
}

/* The iteration helpers give the same sequence with the index and without it (a scan). */
static void test_first_next_with_and_without_index(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct cert_tasks ct;
    (void)state;

    make(f);
    assert_int_equal(cert_tasks_build(&f->cfg, &ct), 0);
    for (size_t c = 0; c < CERTS; c++) {
        const struct config_certificate *cert = &f->certs[c];
        size_t a = cert_tasks_first(&f->cfg, &ct, cert), b = cert_tasks_first(&f->cfg, NULL, cert);
        for (;;) {
            assert_int_equal(a, b);
            if (a == CERT_TASKS_END)
                break;
            a = cert_tasks_next(&f->cfg, &ct, cert, a);
            b = cert_tasks_next(&f->cfg, NULL, cert, b);
        }
    }
    cert_tasks_free(&ct);
    free(f);
}

static void test_cert_index(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    (void)state;

    make(f);
    assert_int_equal(cert_index(&f->cfg, "c0"), 0);
    assert_int_equal(cert_index(&f->cfg, "c49"), 49);
    assert_int_equal(cert_index(&f->cfg, "gone"), SIZE_MAX);
    assert_int_equal(cert_index(&f->cfg, ""), SIZE_MAX);
    free(f);
}

static void test_empty(void **state)
{
    struct config cfg = {0};
    struct cert_tasks ct;
    (void)state;

    assert_int_equal(cert_tasks_build(&cfg, &ct), 0);
    cert_tasks_free(&ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists_match_a_scan),
        cmocka_unit_test(test_first_next_with_and_without_index),
        cmocka_unit_test(test_cert_index),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
