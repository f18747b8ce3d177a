/* plan.h — the renewal plan: which certificates a `ccs renew` run must look at, decided from the
 * state in one pass, so that with 100,000 certificates and 100 due the run spends its time on the
 * 100 (issue 11).
 *
 * Looking at a certificate costs its files (the live certificate read and parsed, leftovers of
 * killed runs swept), its task states and often a write; the plan costs two scans of the state
 * (state_cert_scan, state_task_scan), one readlink per certificate and the policy's arithmetic. A
 * certificate is left alone ("quiet": not due, nothing to do) only when all of these hold:
 *  - the state has a settled record of it: a certificate, and no order or pending key recorded
 *    (renew.c records the pending key before it creates it and clears it only after recording the
 *    installed certificate: a run killed anywhere in between leaves it recorded);
 *  - the live link names the serial of the record (certfiles_live_serial): the record describes
 *    the certificate in use, so its dates are the live one's;
 *  - the policy, on the record, says not due (forced runs and named certificates are looked at);
 *  - no renewal information (ARI) is to be asked for yet (ari_next_check in the future), when a
 *    CA is configured;
 *  - every task owed-able (owed.h) has delivered the record's certificate.
 * Leftovers of killed runs are beside certificates that are looked at: a killed order leaves its
 * pending key recorded, a killed task leaves the task owed. Everything the plan cannot vouch for
 * is looked at, as before. */
#ifndef CCS_MANAGE_PLAN_H
#define CCS_MANAGE_PLAN_H

#include <stddef.h>
#include <time.h>

#include "manage/config.h"
#include "manage/policy.h"
#include "manage/state.h"
#include "util/err.h"

/* A quiet certificate: index I in cfg->certificates, its expiry and the policy's decision. */
typedef void (*plan_quiet_fn)(void *ctx, size_t i, time_t not_after,
                              const struct policy_decision *d);

/* LOOK (cfg->certificate_count entries): set to 1 for every certificate to look at, 0 for the
 * quiet ones, each of which is also passed to QUIET. Returns -1 (ERR set; LOOK all 1) when the
 * state cannot be read or memory runs out. */
int plan_renewals(const struct config *cfg, struct state_db *db, time_t now, unsigned char *look,
                  plan_quiet_fn quiet, void *ctx, struct errbuf *err);

#endif
