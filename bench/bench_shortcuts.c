/*
 * bench_shortcuts.c - what each shortcut beyond KVM's algorithm buys
 * (shadowmmu/shortcuts.h, docs/mmu.md "Shortcuts and their switches").
 *
 * For each workload the trace is generated into an array once, then run
 * through the executor record by record (exec_records: no parsing, with
 * its prefetch hints eight records ahead) under every configuration: all
 * shortcuts on (the default), each one off alone, all off.  Runs are
 * interleaved - run 1 of every configuration, then run 2 of every one, ... -
 * so that the machine's drift (a shared VM: 1.5-2x from minute to minute)
 * falls on every configuration alike.  Reports, per configuration, guest
 * accesses/s (median of BENCH_RUNS) and the ratio of that median to
 * all-on's: below 1, the shortcut that is off was buying that much.
 * The guest outcomes are the same in every configuration (test_mmu_diff);
 * a run whose expectations fail is reported and dropped.
 *
 * No workload touches MMIO, so mmio_spte measures ~1 here; bench_mmu's
 * mmio group is its figure.  Figures only, never pass/fail.
 *
 * Usage: bench_shortcuts [--json] [pingpong|bigmem|mix ...]
 */
#include "benchutil.h"
#include "trace/executor.h"
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_RUNS 5
#define NR_CONFIGS (SMMU_NR_SHORTCUTS + 2) /* all on, each one off, all off */

/* Configuration c: 0 all on, 1..SMMU_NR_SHORTCUTS shortcut c-1 off, last all off. */
static uint32_t config_mask(unsigned c)
{
	if (c == 0)
		return SMMU_SHORTCUTS_ALL;
	if (c <= SMMU_NR_SHORTCUTS)
		return SMMU_SHORTCUTS_ALL & ~(1u << (c - 1));
	return 0;
}

static void config_label(unsigned c, char *buf, size_t len)
{
	if (c == 0)
		snprintf(buf, len, "all_on");
	else if (c <= SMMU_NR_SHORTCUTS)
		snprintf(buf, len, "no_%s", smmu_shortcut_name(1u << (c - 1)));
	else
		snprintf(buf, len, "all_off");
}

/* Guest accesses/s of one run of the stored records under `shortcuts`; < 0 on error. */
static double run_once(const struct record_array *a, const char *name, uint32_t shortcuts)
{
	struct exec_opts opts;
	struct executor *e;
	uint64_t t0, t1;
	double rate;
	int rc;

	exec_opts_init(&opts);
	opts.shortcuts = shortcuts;
	if (exec_create(&e, name, &opts))
		return -1;
	t0 = bench_now_ns();
	rc = exec_records(e, a->rec, a->n);
	t1 = bench_now_ns();
	if (rc)
		fprintf(stderr, "bench_shortcuts: %s (shortcuts %#x): %s\n", name, shortcuts,
		        exec_message(e));
	rate = (double)exec_counts(e)->guest_accesses / ((double)(t1 - t0) * 1e-9);
	exec_destroy(e);
	return rc ? -1 : rate;
}

static void bench_workload(const char *name, double size)
{
	struct workload_params p;
	struct record_array a = {0};
	static double rate[NR_CONFIGS][BENCH_RUNS];
	double all_on = 0;
	char label[128], cfg[48];

	workload_params_init(&p);
	p.size = size;
	if (workload_generate(name, &p, bench_record_sink, &a)) {
		fprintf(stderr, "bench_shortcuts: %s: generation failed\n", name);
		free(a.rec);
		return;
	}
	for (unsigned r = 0; r < BENCH_RUNS; r++) {
		for (unsigned c = 0; c < NR_CONFIGS; c++) {
			rate[c][r] = run_once(&a, name, config_mask(c));
			if (rate[c][r] < 0) {
				free(a.rec);
				return;
			}
		}
	}
	for (unsigned c = 0; c < NR_CONFIGS; c++) {
		config_label(c, cfg, sizeof(cfg));
		snprintf(label, sizeof(label), "%s_size%g_%s", name, size, cfg);
		bench_report(label, "accesses/s", rate[c], BENCH_RUNS); /* sorts rate[c] */
		if (c == 0)
			all_on = bench_median(rate[c], BENCH_RUNS);
		snprintf(label, sizeof(label), "%s_size%g_%s_vs_all_on", name, size, cfg);
		bench_report_value(label, "x", all_on > 0 ? bench_median(rate[c], BENCH_RUNS) / all_on
		                                          : 0.0);
	}
	free(a.rec);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	if (bench_want(argc, argv, "pingpong"))
		bench_workload("pingpong", 0.5);
	if (bench_want(argc, argv, "bigmem"))
		bench_workload("bigmem", 0.5);
	if (bench_want(argc, argv, "mix"))
		bench_workload("mix", 0.25);
	return bench_finish();
}
