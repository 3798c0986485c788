/*
 * audit_report.h - how an invariant checker reports (shadow/audit.c,
 * tdp/tdp_audit.c): the first broken invariant is described in the
 * caller's buffer, later ones only counted.
 */
#ifndef SMMU_MMU_AUDIT_REPORT_H
#define SMMU_MMU_AUDIT_REPORT_H

#include <stddef.h>

struct audit_report {
	char *msg;     /* the first failure's description, or NULL */
	size_t msglen;
	int failed;    /* failures seen */
};

__attribute__((format(printf, 2, 3))) void audit_report_fail(struct audit_report *r,
                                                              const char *fmt, ...);

/* 0, or -EUCLEAN once anything failed. */
int audit_report_result(const struct audit_report *r);

#endif /* SMMU_MMU_AUDIT_REPORT_H */
