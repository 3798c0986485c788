/* check.c - the test harness behind check.h. */
#include "support/check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

unsigned long check_failures_in_test;
unsigned long check_assertions;

static unsigned long tests_passed, tests_failed;
static const char *current_test = "(none)";

/* Print at most this many failure messages per test, then only count. */
#define CHECK_MAX_MESSAGES 20

void check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (check_failures_in_test++ >= CHECK_MAX_MESSAGES)
		return;
	fprintf(stderr, "%s:%d: %s: ", file, line, current_test);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void check_run(const char *name, void (*fn)(void))
{
	current_test = name;
	check_failures_in_test = 0;
	fn();
	if (check_failures_in_test) {
		tests_failed++;
		printf("FAIL %s (%lu failed checks)\n", name, check_failures_in_test);
	} else {
		tests_passed++;
		printf("ok   %s\n", name);
	}
	fflush(stdout);
}

int check_finish(void)
{
	printf("%lu assertions\n", check_assertions);
	printf("%lu passed, %lu failed\n", tests_passed, tests_failed);
	return tests_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

pid_t check_fork(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL); /* or the child flushes the parent's buffered output again */
	pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		_exit(fn(arg));
	}
	return pid;
}
