/*
 * check.h - the test harness: plain functions, file:line assertion messages,
 * and a closing "N passed, N failed" line, in the manner of the kernel's
 * userspace harnesses (tools/testing/radix-tree).
 *
 * A test is a `static void test_name(void)`; main() lists them with RUN().
 * CHECK* record a failure and continue; REQUIRE* record it and return from
 * the test function.  check_finish() prints the summary and gives the exit
 * status (0 only if no check failed).
 */
#ifndef SMMU_TEST_CHECK_H
#define SMMU_TEST_CHECK_H

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>

extern unsigned long check_failures_in_test; /* failures in the running test */
extern unsigned long check_assertions;       /* assertions evaluated, all tests */

void check_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void check_run(const char *name, void (*fn)(void));
int check_finish(void);

#define RUN(fn) check_run(#fn, fn)

/*
 * Fork a child that runs fn(arg) with stderr on /dev/null (the assertion
 * message it is expected to print) and exits with fn's return value.
 * Returns the child's pid to the parent, or -1 if fork failed.
 */
pid_t check_fork(int (*fn)(void *arg), void *arg);

#define CHECK(cond)                                                                    \
	do {                                                                           \
		check_assertions++;                                                    \
		if (!(cond))                                                           \
			check_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);    \
	} while (0)

#define CHECK_MSG(cond, ...)                                                           \
	do {                                                                           \
		check_assertions++;                                                    \
		if (!(cond))                                                           \
			check_fail(__FILE__, __LINE__, __VA_ARGS__);                   \
	} while (0)

#define CHECK_EQ(a, b)                                                                 \
	do {                                                                           \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);           \
		check_assertions++;                                                    \
		if (check_a_ != check_b_)                                              \
			check_fail(__FILE__, __LINE__,                                 \
			           "%s == %s failed: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, \
			           check_a_, check_b_);                                \
	} while (0)

#define REQUIRE(cond)                                                                  \
	do {                                                                           \
		check_assertions++;                                                    \
		if (!(cond)) {                                                         \
			check_fail(__FILE__, __LINE__, "REQUIRE(%s) failed", #cond);  \
			return;                                                        \
		}                                                                      \
	} while (0)

#define REQUIRE_MSG(cond, ...)                                                         \
	do {                                                                           \
		check_assertions++;                                                    \
		if (!(cond)) {                                                         \
			check_fail(__FILE__, __LINE__, __VA_ARGS__);                   \
			return;                                                        \
		}                                                                      \
	} while (0)

/*
 * A caller bug the library asserts on: run fn(arg) in a child (check_fork);
 * a debug build must die of SIGABRT, a release build (NDEBUG) must get
 * through, fn returning 0 when what the release build does is right.
 */
#ifdef NDEBUG
#define CHECK_CALLER_BUG_STATUS(status) (WIFEXITED(status) && WEXITSTATUS(status) == 0)
#else
#define CHECK_CALLER_BUG_STATUS(status) (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
#endif

#define CHECK_CALLER_BUG(fn, arg)                                                      \
	do {                                                                           \
		int check_status_;                                                     \
		pid_t check_pid_ = check_fork(fn, arg);                                \
		REQUIRE(check_pid_ >= 0);                                              \
		REQUIRE(waitpid(check_pid_, &check_status_, 0) == check_pid_);         \
		CHECK(CHECK_CALLER_BUG_STATUS(check_status_));                         \
	} while (0)

#endif /* SMMU_TEST_CHECK_H */
