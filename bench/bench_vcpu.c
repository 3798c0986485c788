/*
 * bench_vcpu.c - cost of the software vCPU's translation paths.
 *
 * Figures (medians over RUNS runs of BATCH operations each, after warm-up):
 *   vcpu_read8_tlb_hit      an 8-byte read served by the TLB (target < 5 ns)
 *   hwwalk_4level           one hardware walk of a 4-level shadow table,
 *                           sptes already accessed (target < 20 ns)
 *   vcpu_read8_tlb_miss     an 8-byte read that misses a 1x1 TLB: walk,
 *                           fill, load (the whole miss path)
 *   vcpu_write8_tlb_hit     an 8-byte write served by the TLB
 * Shadow tables are built directly in the arena by a minimal MMU stand-in
 * whose page_fault maps gva page N to a guest frame, as in test_vcpu_cpu.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"
#include "host/arena.h"
#include "mmu/spte.h"
#include "cpu/vcpu_cpu.h"

#define RUNS    31
#define BATCH   200000
#define PAGES   16 /* fits any TLB geometry used here */
#define ACC_ALL (SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X)

struct bench_mmu {
	struct arena *arena;
	struct vcpu_cpu v;
	hpa_t frames[PAGES];
};

static hpa_t alloc_frame(struct bench_mmu *m, enum arena_use use)
{
	hpa_t hpa;

	if (arena_alloc(m->arena, 0, use, &hpa)) {
		fprintf(stderr, "bench_vcpu: arena full\n");
		exit(1);
	}
	return hpa;
}

static uint64_t *leaf_sptep(struct bench_mmu *m, gva_t gva)
{
	hpa_t table = m->v.walk.root;

	for (unsigned level = 4; level > 1; level--) {
		uint64_t *p = (uint64_t *)arena_hpa_to_ptr(m->arena, table, PAGE_SIZE) +
		              spte_index(gva, level);

		if (!*p)
			*p = spte_make_nonleaf(alloc_frame(m, ARENA_USE_SHADOW));
		table = spte_to_hpa(*p);
	}
	return (uint64_t *)arena_hpa_to_ptr(m->arena, table, PAGE_SIZE) + spte_index(gva, 1);
}

static enum vcpu_pf_action bench_page_fault(void *ctx, gva_t gva, enum smmu_access_type access,
                                            const struct vcpu_exit *e, struct vcpu_pf_reply *r)
{
	struct bench_mmu *m = ctx;

	if (e->reason == HWWALK_NO_ROOT) {
		vcpu_cpu_set_root(&m->v, alloc_frame(m, ARENA_USE_SHADOW), 4);
		return VCPU_PF_RETRY;
	}
	if (e->reason != HWWALK_NOT_PRESENT)
		return VCPU_PF_FAIL;
	*leaf_sptep(m, gva) =
	    spte_make_leaf(m->frames[(gva >> PAGE_SHIFT) % PAGES], 1, ACC_ALL, 0, 0);
	return VCPU_PF_RETRY;
}

static const struct vcpu_mmu_ops bench_ops = {.page_fault = bench_page_fault};

static void bench_mmu_init(struct bench_mmu *m, unsigned sets, unsigned ways)
{
	struct smmu_cpu_model model;
	struct vcpu_cpu_config cfg = {.model = &model,
	                              .mmu_ops = &bench_ops,
	                              .mmu_ctx = m,
	                              .tlb_sets = sets,
	                              .tlb_ways = ways,
	                              .shortcuts = SMMU_SHORTCUTS_ALL};

	smmu_cpu_model_default(&model);
	m->arena = arena_create(64ull << 20);
	if (!m->arena)
		exit(1);
	cfg.arena = m->arena;
	for (unsigned i = 0; i < PAGES; i++)
		m->frames[i] = alloc_frame(m, ARENA_USE_GUEST);
	if (vcpu_cpu_init(&m->v, &cfg))
		exit(1);
}

static void bench_mmu_fini(struct bench_mmu *m)
{
	vcpu_cpu_destroy(&m->v);
	arena_destroy(m->arena);
}

/* Touch every page once (write, so leaves are dirty) to build tables and fill the TLB. */
static void prefault(struct bench_mmu *m)
{
	struct vcpu_outcome out;

	for (unsigned i = 0; i < PAGES; i++)
		if (vcpu_cpu_write(&m->v, (gva_t)i << PAGE_SHIFT, 8, i, &out) != VCPU_OK)
			exit(1);
}

static double time_reads(struct bench_mmu *m, unsigned page_mask)
{
	struct vcpu_outcome out;
	uint64_t sum = 0, t0 = bench_now_ns();

	for (unsigned i = 0; i < BATCH; i++) {
		gva_t gva = ((gva_t)(i & page_mask) << PAGE_SHIFT) | ((i * 8) & 0xff8);

		vcpu_cpu_read(&m->v, gva, 8, &out);
		sum += out.value;
	}
	bench_sink(sum);
	return (double)(bench_now_ns() - t0) / BATCH;
}

static double time_writes(struct bench_mmu *m)
{
	struct vcpu_outcome out;
	uint64_t t0 = bench_now_ns();

	for (unsigned i = 0; i < BATCH; i++)
		vcpu_cpu_write(&m->v, ((gva_t)(i & (PAGES - 1)) << PAGE_SHIFT) | 8, 8, i, &out);
	return (double)(bench_now_ns() - t0) / BATCH;
}

static double time_walks(struct bench_mmu *m)
{
	struct hwwalk_result r;
	uint64_t sum = 0, t0 = bench_now_ns();

	for (unsigned i = 0; i < BATCH; i++) {
		hwwalk(&m->v.walk, (gva_t)(i & (PAGES - 1)) << PAGE_SHIFT, SMMU_ACCESS_READ, &r);
		sum += r.hpa;
	}
	bench_sink(sum);
	return (double)(bench_now_ns() - t0) / BATCH;
}

static void report(const char *name, double (*fn)(struct bench_mmu *), struct bench_mmu *m)
{
	double samples[RUNS];

	fn(m); /* warm-up */
	for (unsigned i = 0; i < RUNS; i++)
		samples[i] = fn(m);
	bench_report(name, "ns", samples, RUNS);
}

static double reads_hit(struct bench_mmu *m)
{
	return time_reads(m, PAGES - 1);
}

static double reads_miss(struct bench_mmu *m)
{
	return time_reads(m, 1); /* two pages through a 1x1 TLB: every read misses */
}

int main(int argc, char **argv)
{
	struct bench_mmu hit, miss;

	bench_init(argc, argv);
	bench_mmu_init(&hit, 64, 4);
	prefault(&hit);
	report("vcpu_read8_tlb_hit", reads_hit, &hit);
	report("vcpu_write8_tlb_hit", time_writes, &hit);
	report("hwwalk_4level", time_walks, &hit);
	bench_mmu_fini(&hit);

	bench_mmu_init(&miss, 1, 1);
	prefault(&miss);
	report("vcpu_read8_tlb_miss", reads_miss, &miss);
	bench_mmu_fini(&miss);
	return bench_finish();
}
