/* benchutil.c - see benchutil.h. */
#include "benchutil.h"

#include <shadowmmu/shadowmmu.h>

#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int json_mode;
static int json_count;

void bench_init(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			json_mode = 1;
	if (json_mode)
		printf("[");
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *samples, unsigned n)
{
	if (!n)
		return 0;
	qsort(samples, n, sizeof(*samples), cmp_double);
	return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

static void emit(const char *name, const char *unit, double med, unsigned n, double min, double max)
{
	if (json_mode) {
		printf("%s\n {\"name\": \"%s\", \"median\": %.6g, \"unit\": \"%s\", \"n\": %u, "
		       "\"min\": %.6g, \"max\": %.6g}",
		       json_count++ ? "," : "", name, med, unit, n, min, max);
	} else {
		printf("%s %.4g %s (n=%u min=%.4g max=%.4g)\n", name, med, unit, n, min, max);
	}
	fflush(stdout);
}

void bench_report(const char *name, const char *unit, double *samples, unsigned n)
{
	double med = bench_median(samples, n);

	emit(name, unit, med, n, n ? samples[0] : 0, n ? samples[n - 1] : 0);
}

void bench_report_value(const char *name, const char *unit, double value)
{
	emit(name, unit, value, 1, value, value);
}

bool bench_want(int argc, char **argv, const char *group)
{
	bool any = false;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		any = true;
		if (!strcmp(argv[i], group))
			return true;
	}
	return !any;
}

int bench_finish(void)
{
	if (json_mode)
		printf("\n]\n");
	return 0;
}

int bench_record_sink(void *ctx, const struct trace_record *rec)
{
	struct record_array *a = ctx;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 1 << 16;
		struct trace_record *r = realloc(a->rec, cap * sizeof(*r));

		if (!r)
			return -1;
		a->rec = r;
		a->cap = cap;
	}
	a->rec[a->n++] = *rec;
	return 0;
}

void bench_wq(struct smmu_vm *vm, uint64_t gpa, uint64_t val)
{
	smmu_vm_write_gpa(vm, gpa, &val, 8);
}

uint64_t bench_rq(struct smmu_vm *vm, uint64_t gpa)
{
	uint64_t v = 0;

	smmu_vm_read_gpa(vm, gpa, &v, 8);
	return v;
}

void bench_map_page(struct smmu_vm *vm, uint64_t *next_table, uint64_t pml4, uint64_t gva,
                    uint64_t gpa, uint64_t flags, unsigned leaf_level)
{
	static const unsigned shifts[] = {39, 30, 21, 12};
	uint64_t table = pml4;

	for (unsigned l = 0; l < 4 - leaf_level; l++) {
		uint64_t e = table + 8 * ((gva >> shifts[l]) & 511);
		uint64_t v = bench_rq(vm, e);

		if (!(v & 1)) {
			v = *next_table | 0x67;
			*next_table += 4096;
			bench_wq(vm, e, v);
		}
		table = v & 0xffffffffff000ull;
	}
	bench_wq(vm, table + 8 * ((gva >> shifts[4 - leaf_level]) & 511),
	         gpa | flags | (leaf_level == 2 ? 0x80 : 0));
}
