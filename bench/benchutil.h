/*
 * benchutil.h - timing and reporting for bench/ programs.
 *
 * Each figure is printed as one line,
 *     NAME MEDIAN UNIT (n=RUNS min=MIN max=MAX)
 * or, with --json on the command line, collected into one JSON array printed
 * by bench_finish().  Benchmarks are never pass/fail: they print figures.
 */
#ifndef SMMU_BENCHUTIL_H
#define SMMU_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void bench_init(int argc, char **argv);
/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);
/* Median of n samples (sorts them in place). */
double bench_median(double *samples, unsigned n);
/* Report one figure from n samples. */
void bench_report(const char *name, const char *unit, double *samples, unsigned n);
/* Report a single derived value (a ratio, a byte count). */
void bench_report_value(const char *name, const char *unit, double value);
int bench_finish(void);
/*
 * Group selection: true if `group` is named among the arguments that are
 * not options, or if none is named (run everything).
 */
bool bench_want(int argc, char **argv, const char *group);
/* Keep the optimizer from discarding v. */
static inline void bench_sink(uint64_t v)
{
	__asm__ volatile("" : : "r"(v) : "memory");
}

/*
 * A workload's trace held in memory, generated once and executed by each
 * configuration a bench compares (the generator's cost stays out of the
 * timed loops).
 */
struct trace_record;
struct record_array {
	struct trace_record *rec;
	size_t n, cap;
};

/* workload_generate()'s sink: append rec to the record_array ctx; -1 when out of memory. */
int bench_record_sink(void *ctx, const struct trace_record *rec);

#endif
