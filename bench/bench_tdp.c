/*
 * bench_tdp.c - shadow paging against two-dimensional paging (TDP, EPT) on
 * the same guests, in the same run (issue "TDP mode", Performance).  Every
 * figure is printed for shadow mode, for TDP mode, and as the ratio
 * tdp/shadow (machines differ 2-4x; the ratios are what the targets bound).
 *
 * Groups (`bench_tdp [--json] [--runs=N] [GROUP...]`, default all):
 *
 *   faults   fault_4k_present   a 4-level guest whose page tables are
 *                               already shadowed (shadow) / whose EPT tables
 *                               already cover the data (TDP) touches new
 *                               data pages of mapped 2 MiB regions.  Shadow:
 *                               hardware walk fails, exit, guest walk,
 *                               spte installed, TLB filled from the leaf.
 *                               TDP: 2D walk (24 references) ends in an EPT
 *                               violation on the final gpa, TDP fault
 *                               installs the 4 KiB EPT leaf, 2D walk again,
 *                               TLB filled.  Target: TDP <= 0.5x shadow
 *                               and < 60 ns.
 *            fault_2m_present   huge_backing, the guest maps 2 MiB pages:
 *                               shadow installs a 2 MiB spte, TDP a 2 MiB
 *                               EPT leaf (target < 100 ns).
 *            fault_new_table    a fault that also needs a new table: a new
 *                               leaf shadow page (a guest page table touched
 *                               the first time) / a new EPT page table (a
 *                               2 MiB gpa region touched the first time).
 *                               The guest page tables were read once
 *                               through a read-only window in both modes,
 *                               so that in TDP mode their own gpas are
 *                               already EPT-mapped and each fault is one
 *                               exit.
 *   walks    walk_cold          a TLB miss whose translation is present,
 *                               a TLB flush before each access (the
 *                               flush-only loop's time subtracted), the
 *                               walk caches off: shadow without its
 *                               paging-structure cache (4 references),
 *                               TDP without the nested TLB and the 2D
 *                               paging-structure cache when those exist
 *                               (SMMU_SHORTCUT_NESTED_TLB / _PSC_2D; 24
 *                               references).  Target: TDP <= 6x shadow.
 *            walk_warm          a sweep over 4088 pages, each access a TLB
 *                               miss by capacity, every shortcut on (shadow:
 *                               the PSC, 1 reference).  Target <= 1.5x.
 *   workloads pingpong, bigmem, kbuild, mix, forkwait (size 0.25) through
 *            the executor: records/s, accesses/s, mmu_exits, pf_fixed,
 *            walk references per hardware walk.
 *   meta     metadata bytes per guest page and per MMU page after mix.
 *
 * Each timed loop is its own NOINLINE function, one per mode, so that
 * callgrind can count it alone, e.g.
 *   valgrind --tool=callgrind --toggle-collect=fault4k_tdp ./build/bench_tdp --runs=1 faults
 * and divide by the events (docs/performance.md gives the counts).
 * Times are medians of RUNS runs, shadow and TDP runs interleaved.
 */
#include "benchutil.h"
#include "trace/executor.h"
#include "workload.h"

#include <shadowmmu/shadowmmu.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 15
/* noclone too: a constant-propagated clone would carry another name than callgrind's. */
#if defined(__GNUC__) && !defined(__clang__)
#define NOINLINE __attribute__((noinline, noclone))
#else
#define NOINLINE __attribute__((noinline))
#endif

static unsigned runs = 7;

/* Guest layout: page tables from 16 MiB, data from 32 MiB (2 MiB aligned, for the EPT). */
#define PML4_GPA   0x1000ull
#define PT_BASE    0x1000000ull
#define DATA_GPA   0x2000000ull  /* FAULT_TABLES x 2 MiB of 4 KiB pages */
#define NEWPT_GPA  0x8000000ull  /* 128 MiB: one page per 2 MiB region */
#define HUGE_GPA   0x10000000ull /* 256 MiB: 2 MiB guest pages */
#define GVA_BASE   0x40000000ull /* PML4[0], PDPT[1] */
#define WIN_GVA    0x80000000ull /* PDPT[2]: read-only window on the page tables */
#define GUEST_MB   1024

#define FAULT_TABLES 32  /* leaf page tables whose pages the fault loop touches */
#define NEW_PT       256 /* faults that each need a new table */
#define HUGE_FAULTS  96  /* 2 MiB faults per run */
#define WALK_TABLES  8   /* walks: 8 x 511 pages */

static const char *mode_name[2] = {"shadow", "tdp"};

/* Host-side helpers on the guest's memory (benchutil). */
#define wq(g, gpa, val) bench_wq((g)->vm, (gpa), (val))
#define rq(g, gpa)      bench_rq((g)->vm, (gpa))

struct guest {
	struct smmu_vm *vm;
	uint64_t next_table;
	uint64_t pml4;
};

static void map_page_level(struct guest *g, uint64_t gva, uint64_t gpa, uint64_t flags,
                           unsigned leaf_level)
{
	bench_map_page(g->vm, &g->next_table, g->pml4, gva, gpa, flags, leaf_level);
}

static void map_page(struct guest *g, uint64_t gva, uint64_t gpa)
{
	map_page_level(g, gva, gpa, 0x67, 1);
}

/* Host first touches outside the timed loops. */
static void prefault_host(struct guest *g, uint64_t gpa, uint64_t pages, uint64_t stride)
{
	for (uint64_t i = 0; i < pages; i++)
		wq(g, gpa + i * stride + 4088, rq(g, gpa + i * stride + 4088));
}

static void guest_init(struct guest *g, bool tdp, bool huge, uint32_t shortcuts)
{
	struct smmu_vm_config cfg;

	memset(g, 0, sizeof(*g));
	smmu_vm_config_default(&cfg);
	cfg.arena_bytes = 8ull << 30;
	cfg.huge_backing = huge;
	cfg.shortcuts = shortcuts;
	if (tdp) {
		cfg.mmu = SMMU_MMU_TDP;
		cfg.ept_ad = true;
	}
	if (smmu_vm_create(&cfg, &g->vm) || smmu_vm_add_slot(g->vm, 0, 0, GUEST_MB << 20, 0)) {
		fprintf(stderr, "bench_tdp: cannot create a %s VM\n", mode_name[tdp]);
		exit(1);
	}
	g->next_table = PT_BASE;
	g->pml4 = PML4_GPA;
}

static void enter_long_mode(struct guest *g)
{
	struct smmu_outcome o;

	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_CR4, 0x20, &o);
	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_EFER, 0x100, &o);
	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_CR3, g->pml4, &o);
	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_CR0, 0x80010011, &o);
}

static inline uint64_t touch(struct guest *g, uint64_t gva)
{
	struct smmu_outcome o;

	smmu_vcpu_read(g->vm, 0, gva, 8, &o);
	return o.value + o.result;
}

static uint64_t touch_pages(struct guest *g, uint64_t gva, uint64_t stride, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		sum += touch(g, gva + i * stride);
	return sum;
}

/* Every page but the first of `tables` leaf page tables. */
static uint64_t touch_tables(struct guest *g, unsigned tables)
{
	uint64_t sum = 0;

	for (unsigned t = 0; t < tables; t++)
		sum += touch_pages(g, GVA_BASE + t * (2ull << 20) + 4096, 4096, 511);
	return sum;
}

static uint64_t flush_touch_tables(struct guest *g, unsigned tables)
{
	uint64_t sum = 0;

	for (unsigned t = 0; t < tables; t++)
		for (unsigned i = 1; i < 512; i++) {
			smmu_vcpu_flush(g->vm, 0);
			sum += touch(g, GVA_BASE + t * (2ull << 20) + i * 4096ull);
		}
	return sum;
}

static uint64_t flush_only(struct guest *g, unsigned tables)
{
	for (unsigned k = 0; k < tables * 511; k++)
		smmu_vcpu_flush(g->vm, 0);
	return tables;
}

/*
 * The timed loops, one per mode (callgrind --toggle-collect=NAME); the
 * constants keep the linker from folding a pair into one function.
 */
static NOINLINE uint64_t fault4k_shadow(struct guest *g) { return touch_tables(g, FAULT_TABLES); }
static NOINLINE uint64_t fault4k_tdp(struct guest *g) { return touch_tables(g, FAULT_TABLES) ^ 1; }
static NOINLINE uint64_t newtable_shadow(struct guest *g, uint64_t gva)
{
	return touch_pages(g, gva, 2ull << 20, NEW_PT);
}
static NOINLINE uint64_t newtable_tdp(struct guest *g, uint64_t gva)
{
	return touch_pages(g, gva, 2ull << 20, NEW_PT) ^ 1;
}
static NOINLINE uint64_t fault2m_shadow(struct guest *g, uint64_t gva)
{
	return touch_pages(g, gva, 2ull << 20, HUGE_FAULTS);
}
static NOINLINE uint64_t fault2m_tdp(struct guest *g, uint64_t gva)
{
	return touch_pages(g, gva, 2ull << 20, HUGE_FAULTS) ^ 1;
}
static NOINLINE uint64_t walkcold_shadow(struct guest *g) { return flush_touch_tables(g, WALK_TABLES); }
static NOINLINE uint64_t walkcold_tdp(struct guest *g) { return flush_touch_tables(g, WALK_TABLES) ^ 1; }
static NOINLINE uint64_t flushonly_shadow(struct guest *g) { return flush_only(g, WALK_TABLES); }
static NOINLINE uint64_t flushonly_tdp(struct guest *g) { return flush_only(g, WALK_TABLES) ^ 1; }
static NOINLINE uint64_t walkwarm_shadow(struct guest *g) { return touch_tables(g, WALK_TABLES); }
static NOINLINE uint64_t walkwarm_tdp(struct guest *g) { return touch_tables(g, WALK_TABLES) ^ 1; }

/* ---- reporting ------------------------------------------------------------ */

/* NAME_shadow, NAME_tdp (medians of the samples) and NAME_tdp_vs_shadow. */
static double report_pair(const char *name, const char *unit, double *s, double *t, unsigned n)
{
	char label[128];
	double ms, mt;

	snprintf(label, sizeof(label), "%.100s_shadow", name);
	bench_report(label, unit, s, n);
	snprintf(label, sizeof(label), "%.100s_tdp", name);
	bench_report(label, unit, t, n);
	ms = bench_median(s, n);
	mt = bench_median(t, n);
	snprintf(label, sizeof(label), "%.100s_tdp_vs_shadow", name);
	bench_report_value(label, "x", ms > 0 ? mt / ms : 0);
	return ms > 0 ? mt / ms : 0;
}

static void report_value_pair(const char *name, const char *unit, double s, double t)
{
	char label[128];

	snprintf(label, sizeof(label), "%.100s_shadow", name);
	bench_report_value(label, unit, s);
	snprintf(label, sizeof(label), "%.100s_tdp", name);
	bench_report_value(label, unit, t);
	snprintf(label, sizeof(label), "%.100s_tdp_vs_shadow", name);
	bench_report_value(label, "x", s > 0 ? t / s : 0);
}

struct delta {
	struct smmu_stats a;
};

static void stats_begin(struct guest *g, struct delta *d)
{
	smmu_vm_get_stats(g->vm, &d->a);
}

/* Walk references per hardware walk since stats_begin (and exits per event). */
static void stats_end(struct guest *g, const struct delta *d, unsigned events, double *refs,
                      double *exits)
{
	struct smmu_stats b;

	smmu_vm_get_stats(g->vm, &b);
	*refs = b.hw_walks > d->a.hw_walks ? (double)(b.walk_refs - d->a.walk_refs) /
	                                             (double)(b.hw_walks - d->a.hw_walks)
	                                   : 0;
	*exits = (double)(b.mmu_exits - d->a.mmu_exits) / events;
}

/* ---- faults --------------------------------------------------------------- */

/* One run of the 4 KiB and new-table faults in one mode; ns per fault. */
static void faults_run(bool tdp, double *present, double *newpt, double *refs, double *exits)
{
	struct guest g;
	struct delta d;
	uint64_t t0, sum = 0, pt_end;
	double x;
	const uint64_t newpt_gva = GVA_BASE + FAULT_TABLES * (2ull << 20);

	guest_init(&g, tdp, false, SMMU_SHORTCUTS_ALL);
	for (unsigned i = 0; i < FAULT_TABLES * 512; i++)
		map_page(&g, GVA_BASE + i * 4096ull, DATA_GPA + i * 4096ull);
	for (unsigned p = 0; p < NEW_PT; p++)
		map_page(&g, newpt_gva + p * (2ull << 20), NEWPT_GPA + p * (2ull << 20));
	/* The window: every page-table frame so far, read-only (P U A D). */
	pt_end = g.next_table;
	for (uint64_t a = PT_BASE; a < pt_end; a += 4096)
		map_page_level(&g, WIN_GVA + (a - PT_BASE), a, 0x65, 1);
	map_page_level(&g, WIN_GVA - 4096, PML4_GPA, 0x65, 1);
	prefault_host(&g, DATA_GPA, FAULT_TABLES * 512, 4096);
	prefault_host(&g, NEWPT_GPA, NEW_PT, 2ull << 20);
	prefault_host(&g, PT_BASE, (g.next_table - PT_BASE) / 4096, 4096);
	enter_long_mode(&g);
	/* Roots, paths, each leaf table (shadow page / EPT table); the tables' own gpas. */
	sum += touch_pages(&g, WIN_GVA - 4096, 4096, (unsigned)((pt_end - PT_BASE) / 4096) + 1);
	sum += touch_pages(&g, GVA_BASE, 2ull << 20, FAULT_TABLES);
	stats_begin(&g, &d);
	t0 = bench_now_ns();
	sum += tdp ? fault4k_tdp(&g) : fault4k_shadow(&g);
	*present = (double)(bench_now_ns() - t0) / (FAULT_TABLES * 511);
	stats_end(&g, &d, FAULT_TABLES * 511, refs, exits);
	t0 = bench_now_ns();
	sum += tdp ? newtable_tdp(&g, newpt_gva) : newtable_shadow(&g, newpt_gva);
	*newpt = (double)(bench_now_ns() - t0) / NEW_PT;
	stats_end(&g, &d, NEW_PT, &x, &x);
	bench_sink(sum);
	smmu_vm_destroy(g.vm);
}

/* One run of 2 MiB faults (huge_backing, 2 MiB guest pages); ns per fault. */
static double fault2m_run(bool tdp, double *exits)
{
	struct guest g;
	struct delta d;
	struct smmu_stats st;
	uint64_t t0, sum = 0, pt_end;
	double ns, refs;
	const uint64_t gva = GVA_BASE;

	guest_init(&g, tdp, true, SMMU_SHORTCUTS_ALL);
	for (unsigned k = 0; k <= HUGE_FAULTS; k++)
		map_page_level(&g, gva + k * (2ull << 20), HUGE_GPA + k * (2ull << 20), 0x67, 2);
	pt_end = g.next_table;
	for (uint64_t a = PT_BASE; a < pt_end; a += 4096)
		map_page_level(&g, WIN_GVA + (a - PT_BASE), a, 0x65, 1);
	map_page_level(&g, WIN_GVA - 4096, PML4_GPA, 0x65, 1);
	prefault_host(&g, HUGE_GPA, HUGE_FAULTS + 1, 2ull << 20);
	prefault_host(&g, PT_BASE, (g.next_table - PT_BASE) / 4096, 4096);
	enter_long_mode(&g);
	sum += touch_pages(&g, WIN_GVA - 4096, 4096, (unsigned)((pt_end - PT_BASE) / 4096) + 1);
	sum += touch(&g, gva); /* the path down to the PD */
	stats_begin(&g, &d);
	t0 = bench_now_ns();
	sum += tdp ? fault2m_tdp(&g, gva + (2ull << 20)) : fault2m_shadow(&g, gva + (2ull << 20));
	ns = (double)(bench_now_ns() - t0) / HUGE_FAULTS;
	stats_end(&g, &d, HUGE_FAULTS, &refs, exits);
	smmu_vm_get_stats(g.vm, &st);
	if (st.pages_2m < HUGE_FAULTS)
		fprintf(stderr, "bench_tdp: %s: only %llu 2 MiB leaves for %u faults\n", mode_name[tdp],
		        (unsigned long long)st.pages_2m, HUGE_FAULTS);
	bench_sink(sum);
	smmu_vm_destroy(g.vm);
	return ns;
}

static void bench_faults(void)
{
	double present[2][MAX_RUNS], newpt[2][MAX_RUNS], huge[2][MAX_RUNS];
	double refs[2] = {0}, exits[2] = {0}, hexits[2] = {0};

	for (unsigned r = 0; r < runs; r++)
		for (unsigned m = 0; m < 2; m++) {
			faults_run(m, &present[m][r], &newpt[m][r], &refs[m], &exits[m]);
			huge[m][r] = fault2m_run(m, &hexits[m]);
		}
	report_pair("fault_4k_present", "ns", present[0], present[1], runs);
	report_value_pair("fault_4k_present_exits_per_fault", "exits", exits[0], exits[1]);
	report_value_pair("fault_4k_present_refs_per_walk", "refs", refs[0], refs[1]);
	report_pair("fault_2m_present", "ns", huge[0], huge[1], runs);
	report_value_pair("fault_2m_present_exits_per_fault", "exits", hexits[0], hexits[1]);
	report_pair("fault_new_table", "ns", newpt[0], newpt[1], runs);
}

/* ---- walks ---------------------------------------------------------------- */

#ifdef SMMU_SHORTCUT_NESTED_TLB
#define TDP_WALK_CACHES (SMMU_SHORTCUT_NESTED_TLB | SMMU_SHORTCUT_PSC_2D)
#else
#define TDP_WALK_CACHES 0u /* not there yet: TDP walks are always cold */
#endif

/* Per-access ns of a cold walk (net of the flush) and of a warm one, in one mode. */
static void walks_run(bool tdp, bool cold, double *ns, double *refs, uint64_t *misses)
{
	uint32_t caches = tdp ? TDP_WALK_CACHES : SMMU_SHORTCUT_PSC;
	struct guest g;
	struct delta d;
	struct smmu_stats b;
	uint64_t t0, t1, sum = 0;
	const unsigned n = WALK_TABLES * 511;
	double x;

	guest_init(&g, tdp, false, cold ? SMMU_SHORTCUTS_ALL & ~caches : SMMU_SHORTCUTS_ALL);
	for (unsigned i = 0; i < WALK_TABLES * 512; i++)
		map_page(&g, GVA_BASE + i * 4096ull, DATA_GPA + i * 4096ull);
	prefault_host(&g, DATA_GPA, WALK_TABLES * 512, 4096);
	prefault_host(&g, PT_BASE, (g.next_table - PT_BASE) / 4096, 4096);
	enter_long_mode(&g);
	sum += touch_pages(&g, GVA_BASE, 4096, WALK_TABLES * 512); /* every translation present */
	sum += touch_tables(&g, WALK_TABLES);                      /* warm the host caches */
	stats_begin(&g, &d);
	if (cold) {
		t0 = bench_now_ns();
		sum += tdp ? walkcold_tdp(&g) : walkcold_shadow(&g);
		t1 = bench_now_ns();
		stats_end(&g, &d, n, refs, &x);
		smmu_vm_get_stats(g.vm, &b);
		*misses = b.tlb_misses - d.a.tlb_misses;
		*ns = (double)(t1 - t0);
		t0 = bench_now_ns();
		sum += tdp ? flushonly_tdp(&g) : flushonly_shadow(&g);
		*ns = (*ns - (double)(bench_now_ns() - t0)) / n;
	} else {
		t0 = bench_now_ns();
		sum += tdp ? walkwarm_tdp(&g) : walkwarm_shadow(&g);
		*ns = (double)(bench_now_ns() - t0) / n;
		stats_end(&g, &d, n, refs, &x);
		smmu_vm_get_stats(g.vm, &b);
		*misses = b.tlb_misses - d.a.tlb_misses;
	}
	bench_sink(sum);
	smmu_vm_destroy(g.vm);
}

static void bench_walks(void)
{
	double cold[2][MAX_RUNS], warm[2][MAX_RUNS], crefs[2] = {0}, wrefs[2] = {0};
	uint64_t cmiss[2] = {0}, wmiss[2] = {0};

	for (unsigned r = 0; r < runs; r++)
		for (unsigned m = 0; m < 2; m++) {
			walks_run(m, true, &cold[m][r], &crefs[m], &cmiss[m]);
			walks_run(m, false, &warm[m][r], &wrefs[m], &wmiss[m]);
		}
	report_pair("walk_cold", "ns", cold[0], cold[1], runs);
	report_value_pair("walk_cold_refs_per_walk", "refs", crefs[0], crefs[1]);
	report_value_pair("walk_cold_tlb_misses_per_access", "misses",
	                  (double)cmiss[0] / (WALK_TABLES * 511), (double)cmiss[1] / (WALK_TABLES * 511));
	report_pair("walk_warm", "ns", warm[0], warm[1], runs);
	report_value_pair("walk_warm_refs_per_walk", "refs", wrefs[0], wrefs[1]);
	report_value_pair("walk_warm_tlb_misses_per_access", "misses",
	                  (double)wmiss[0] / (WALK_TABLES * 511), (double)wmiss[1] / (WALK_TABLES * 511));
	bench_report_value("walk_tdp_2d_caches_built", "bool", TDP_WALK_CACHES ? 1 : 0);
}

/* ---- workloads ------------------------------------------------------------ */

static NOINLINE int exec_shadow(struct executor *e, const struct record_array *a)
{
	return exec_records(e, a->rec, a->n);
}

static NOINLINE int exec_tdp(struct executor *e, const struct record_array *a)
{
	bench_sink(1); /* not folded into exec_shadow */
	return exec_records(e, a->rec, a->n);
}

struct wl_result {
	double rec_s, acc_s;
	struct smmu_stats st;
};

static int wl_run(const struct record_array *a, const char *name, bool tdp, struct wl_result *out)
{
	struct exec_opts opts;
	struct executor *e;
	struct smmu_vm *vm;
	uint64_t t0, t1;
	int rc;

	exec_opts_init(&opts);
	if (tdp) {
		opts.mmu = SMMU_MMU_TDP;
		opts.ept_ad = true;
	}
	if (exec_create(&e, name, &opts))
		return -1;
	t0 = bench_now_ns();
	rc = tdp ? exec_tdp(e, a) : exec_shadow(e, a);
	t1 = bench_now_ns();
	if (rc)
		fprintf(stderr, "bench_tdp: %s (%s): %s\n", name, mode_name[tdp], exec_message(e));
	out->rec_s = (double)a->n / ((double)(t1 - t0) * 1e-9);
	out->acc_s = (double)exec_counts(e)->guest_accesses / ((double)(t1 - t0) * 1e-9);
	vm = exec_vm(e);
	if (vm)
		smmu_vm_get_stats(vm, &out->st);
	exec_destroy(e);
	return rc || !vm ? -1 : 0;
}

static int wl_generate(const char *name, double size, struct record_array *a)
{
	struct workload_params p;

	workload_params_init(&p);
	p.size = size;
	if (workload_generate(name, &p, bench_record_sink, a)) {
		fprintf(stderr, "bench_tdp: %s: generation failed\n", name);
		return -1;
	}
	return 0;
}

#define WL_RUNS 3

static void bench_workload(const char *name, double size)
{
	struct record_array a = {0};
	struct wl_result res[2][WL_RUNS];
	double rec[2][WL_RUNS], acc[2][WL_RUNS];
	char label[128];

	if (wl_generate(name, size, &a))
		goto out;
	for (unsigned r = 0; r < WL_RUNS; r++)
		for (unsigned m = 0; m < 2; m++) {
			if (wl_run(&a, name, m, &res[m][r]))
				goto out;
			rec[m][r] = res[m][r].rec_s;
			acc[m][r] = res[m][r].acc_s;
		}
	snprintf(label, sizeof(label), "%s_size%g_records", name, size);
	report_pair(label, "records/s", rec[0], rec[1], WL_RUNS);
	snprintf(label, sizeof(label), "%s_size%g_accesses", name, size);
	report_pair(label, "accesses/s", acc[0], acc[1], WL_RUNS);
	/* The counts are deterministic: run 0's. */
	snprintf(label, sizeof(label), "%s_size%g_mmu_exits", name, size);
	report_value_pair(label, "exits", (double)res[0][0].st.mmu_exits, (double)res[1][0].st.mmu_exits);
	snprintf(label, sizeof(label), "%s_size%g_pf_fixed", name, size);
	report_value_pair(label, "faults", (double)res[0][0].st.pf_fixed, (double)res[1][0].st.pf_fixed);
	snprintf(label, sizeof(label), "%s_size%g_refs_per_walk", name, size);
	report_value_pair(label, "refs",
	                  res[0][0].st.hw_walks ? (double)res[0][0].st.walk_refs / res[0][0].st.hw_walks : 0,
	                  res[1][0].st.hw_walks ? (double)res[1][0].st.walk_refs / res[1][0].st.hw_walks : 0);
out:
	free(a.rec);
}

/* ---- metadata ------------------------------------------------------------- */

static void bench_meta(const char *name, double size)
{
	struct record_array a = {0};
	struct wl_result res[2];
	double per_gp[2], per_mp[2];
	char label[128];

	if (wl_generate(name, size, &a))
		goto out;
	for (unsigned m = 0; m < 2; m++) {
		const struct smmu_stats *s = &res[m].st;
		double mmu_bytes;

		if (wl_run(&a, name, m, &res[m]))
			goto out;
		mmu_bytes = (double)(s->bytes_sp_headers + s->bytes_spt_frames + s->bytes_shadowed +
		                     s->bytes_rmap_desc);
		per_gp[m] = (mmu_bytes + (double)s->bytes_memslot_meta) / (double)s->guest_pages;
		per_mp[m] = s->shadow_pages ? mmu_bytes / (double)s->shadow_pages : 0;
	}
#define META(field)                                                                          \
	do {                                                                                     \
		snprintf(label, sizeof(label), "meta_%s_%s", name, #field);                       \
		report_value_pair(label, "B", (double)res[0].st.field, (double)res[1].st.field); \
	} while (0)
	META(bytes_sp_headers);
	META(bytes_spt_frames);
	META(bytes_shadowed);
	META(bytes_rmap_desc);
	META(bytes_memslot_meta);
#undef META
	snprintf(label, sizeof(label), "meta_%s_mmu_pages", name);
	report_value_pair(label, "pages", (double)res[0].st.shadow_pages, (double)res[1].st.shadow_pages);
	snprintf(label, sizeof(label), "meta_%s_guest_pages", name);
	report_value_pair(label, "pages", (double)res[0].st.guest_pages, (double)res[1].st.guest_pages);
	snprintf(label, sizeof(label), "meta_%s_bytes_per_guest_page", name);
	report_value_pair(label, "B", per_gp[0], per_gp[1]);
	snprintf(label, sizeof(label), "meta_%s_bytes_per_mmu_page", name);
	report_value_pair(label, "B", per_mp[0], per_mp[1]);
out:
	free(a.rec);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--runs=", 7)) {
			runs = (unsigned)atoi(argv[i] + 7);
			if (runs < 1 || runs > MAX_RUNS) {
				fprintf(stderr, "bench_tdp: --runs=1..%d\n", MAX_RUNS);
				return 2;
			}
		}
	if (bench_want(argc, argv, "faults"))
		bench_faults();
	if (bench_want(argc, argv, "walks"))
		bench_walks();
	if (bench_want(argc, argv, "workloads")) {
		static const char *const wl[] = {"pingpong", "bigmem", "kbuild", "mix", "forkwait"};

		for (unsigned i = 0; i < sizeof(wl) / sizeof(wl[0]); i++)
			bench_workload(wl[i], 0.25);
	}
	if (bench_want(argc, argv, "meta"))
		bench_meta("mix", 0.25);
	return bench_finish();
}
