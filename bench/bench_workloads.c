/*
 * bench_workloads.c - the guest-OS workload model's speed, and the shadow
 * MMU's speed on its traces.
 *
 * Generation: records/s of each workload into a sink that only counts
 * (the model alone).  Execution: bigmem and pingpong are generated into an
 * array first, then the array is run through the executor record by record
 * (exec_record, no parsing), so the figures are those of the executor and
 * the shadow MMU: records/s and guest accesses/s (r, w, x records).
 * Medians of BENCH_RUNS runs; figures only, never pass/fail.
 */
#include "benchutil.h"
#include "trace/executor.h"
#include "workload.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BENCH_RUNS 3

static int sink_count(void *ctx, const struct trace_record *rec)
{
	bench_sink(rec->op[0]);
	(*(uint64_t *)ctx)++;
	return 0;
}

static void bench_generation(const char *name, double size)
{
	struct workload_params p;
	double rate[BENCH_RUNS];
	char label[96];

	workload_params_init(&p);
	p.size = size;
	for (unsigned i = 0; i < BENCH_RUNS; i++) {
		uint64_t n = 0, t0 = bench_now_ns();

		if (workload_generate(name, &p, sink_count, &n)) {
			fprintf(stderr, "bench_workloads: %s: generation failed\n", name);
			return;
		}
		rate[i] = (double)n / ((double)(bench_now_ns() - t0) * 1e-9);
	}
	snprintf(label, sizeof(label), "gen_%s_size%g", name, size);
	bench_report(label, "records/s", rate, BENCH_RUNS);
}

/* The timed loop; NOINLINE so callgrind can count it alone (--toggle-collect=exec_all). */
static __attribute__((noinline)) int exec_all(struct executor *e, const struct record_array *a)
{
	return exec_records(e, a->rec, a->n);
}

/* Run the stored records once; 0 or the executor's error. */
static int run_once(const struct record_array *a, const char *name, double *rec_s, double *acc_s)
{
	struct executor *e;
	uint64_t t0, t1;
	int rc = exec_create(&e, name, NULL);

	if (rc)
		return rc;
	t0 = bench_now_ns();
	rc = exec_all(e, a);
	t1 = bench_now_ns();
	if (rc)
		fprintf(stderr, "bench_workloads: %s\n", exec_message(e));
	*rec_s = (double)a->n / ((double)(t1 - t0) * 1e-9);
	*acc_s = (double)exec_counts(e)->guest_accesses / ((double)(t1 - t0) * 1e-9);
	exec_destroy(e);
	return rc;
}

static void bench_execution(const char *name, double size, unsigned vcpus, bool pcid)
{
	struct workload_params p;
	struct record_array a = {0};
	double rec_s[BENCH_RUNS], acc_s[BENCH_RUNS];
	char label[128];

	workload_params_init(&p);
	p.size = size;
	p.vcpus = vcpus;
	p.pcid = pcid;
	if (workload_generate(name, &p, bench_record_sink, &a)) {
		fprintf(stderr, "bench_workloads: %s: generation failed\n", name);
		free(a.rec);
		return;
	}
	for (unsigned i = 0; i < BENCH_RUNS; i++) {
		if (run_once(&a, name, &rec_s[i], &acc_s[i])) {
			free(a.rec);
			return;
		}
	}
	snprintf(label, sizeof(label), "exec_%s_size%g_vcpus%u%s", name, size, vcpus,
	         pcid ? "_pcid" : "");
	bench_report(label, "records/s", rec_s, BENCH_RUNS);
	snprintf(label, sizeof(label), "exec_%s_size%g_vcpus%u%s_accesses", name, size, vcpus,
	         pcid ? "_pcid" : "");
	bench_report(label, "accesses/s", acc_s, BENCH_RUNS);
	bench_report_value("exec_records_in_trace", "records", (double)a.n);
	free(a.rec);
}

/*
 * Context for bigmem's figure: as many random 8-byte accesses over as much
 * memory (bigmem's working set: 32,768 pages x size, THP-advised like the
 * arena), done by the host CPU itself with no translation at all, each
 * address depending on the previous load so that they cannot overlap - as
 * an interpreter's accesses, hundreds of instructions apart, mostly cannot.
 * It is the memory latency every bigmem access pays before any MMU work.
 */
static void bench_native_floor(double size)
{
	uint64_t pages = (uint64_t)(32768 * size), n = (uint64_t)(1000000 * size);
	size_t bytes = pages * 4096;
	double rate[BENCH_RUNS];
	char label[96];
	uint8_t *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return;
	(void)madvise(mem, bytes, MADV_HUGEPAGE);
	memset(mem, 1, bytes);
	for (unsigned i = 0; i < BENCH_RUNS; i++) {
		uint64_t x = 88172645463325252ull + i, sum = 0, t0 = bench_now_ns();

		for (uint64_t k = 0; k < n; k++) {
			uint64_t *p;

			x ^= x << 13; /* xorshift64 */
			x ^= x >> 7;
			x ^= x << 17;
			p = (uint64_t *)(mem + (x % pages) * 4096 + ((x >> 40) & 0xff8));
			sum = *(volatile uint64_t *)p; /* every word holds 0x0101...: known */
			x += sum - 0x0101010101010101ull; /* the next address waits for this load */
		}
		bench_sink(sum);
		rate[i] = (double)n / ((double)(bench_now_ns() - t0) * 1e-9);
	}
	munmap(mem, bytes);
	snprintf(label, sizeof(label), "native_dependent_random_reads_size%g", size);
	bench_report(label, "accesses/s", rate, BENCH_RUNS);
}

/* `bench_workloads [--json] [GROUP...]`: groups gen, pingpong, bigmem (default: all). */
int main(int argc, char **argv)
{
	unsigned nr;
	const struct workload_info *list = workload_list(&nr);

	bench_init(argc, argv);
	if (bench_want(argc, argv, "gen"))
		for (unsigned i = 0; i < nr; i++)
			bench_generation(list[i].name, !strcmp(list[i].name, "boot") ? 1.0 : 0.25);
	if (bench_want(argc, argv, "pingpong")) {
		bench_execution("pingpong", 0.5, 1, false);
		bench_execution("pingpong", 0.5, 1, true);
	}
	if (bench_want(argc, argv, "bigmem")) {
		bench_execution("bigmem", 0.25, 1, false);
		bench_execution("bigmem", 0.25, 2, false);
		bench_execution("bigmem", 1.0, 1, false); /* the default size: 128 MiB, 1M accesses */
		bench_native_floor(0.25);
		bench_native_floor(1.0);
	}
	return bench_finish();
}
