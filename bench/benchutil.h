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

/*
 * Guest page tables built from the host side, for benches that set a guest
 * up before timing it: 8-byte guest-physical reads and writes, and a 4-level
 * mapping of gva at 4 KiB (leaf_level 1) or 2 MiB (2, with PS), its missing
 * tables taken from *next_table upwards (present, writable, user, accessed).
 */
struct smmu_vm;
void bench_wq(struct smmu_vm *vm, uint64_t gpa, uint64_t val);
uint64_t bench_rq(struct smmu_vm *vm, uint64_t gpa);
void bench_map_page(struct smmu_vm *vm, uint64_t *next_table, uint64_t pml4, uint64_t gva,
                    uint64_t gpa, uint64_t flags, unsigned leaf_level);

#endif
