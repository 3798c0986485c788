/*
 * audit_report.c - the checkers' report (audit_report.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "mmu/audit_report.h"

void audit_report_fail(struct audit_report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed++)
		return;
	va_start(ap, fmt);
	if (r->msg && r->msglen)
		vsnprintf(r->msg, r->msglen, fmt, ap);
	va_end(ap);
}

int audit_report_result(const struct audit_report *r)
{
	return r->failed ? -EUCLEAN : 0;
}
