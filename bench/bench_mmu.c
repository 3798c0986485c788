/*
 * bench_mmu.c - what the shadow MMU's events cost, measured through the
 * public API on a 4-level guest (issue "The shadow MMU", Performance):
 *
 *   fault_4k_sps_present   a shadow fault that installs one 4 KiB spte
 *                          under shadow pages that already exist
 *   fault_4k_new_pt        a fault that must also create the leaf shadow
 *                          page (a page table touched for the first time)
 *   tlb_miss_spte_present  the same access once the spte exists (baseline:
 *                          hardware walk only), to subtract from the above
 *   cr3_switch_cached      MOV to CR3 between two address spaces whose roots
 *                          are cached, plus the first access after it
 *   gpte_write_invlpg_touch_emulated   an OS remapping a page: write the
 *                          pte (a write-protected page table: emulated,
 *                          unsync off), invlpg, use the page
 *   gpte_write_invlpg_touch_unsync     the same with unsync on: the write
 *                          goes straight to the unsync table, invlpg syncs
 *                          the one spte
 *   zap_all_N              the vCPU-visible part of zap-all with N shadow
 *                          pages (generation bump, roots dropped)
 *   reclaim_per_page_N     the deferred freeing of the obsolete pages
 *   bytes_per_sp_*         metadata bytes per shadow page
 *
 * Each figure is the median of several runs; per-event figures divide a
 * run's time by its event count.
 */
#include "benchutil.h"

#include <shadowmmu/shadowmmu.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 7

#define NOINLINE __attribute__((noinline))

#include <stdbool.h>

/* Guest layout: data frames from 1 MiB, page tables from 16 MiB. */
#define PML4_GPA 0x1000ull
#define DATA_GPA 0x100000ull
#define PT_BASE  0x1000000ull
#define GVA_BASE 0x40000000ull /* PML4[0], PDPT[1] */

/* Host-side helpers on the guest's memory (benchutil). */
#define wq(g, gpa, val) bench_wq((g)->vm, (gpa), (val))
#define rq(g, gpa)      bench_rq((g)->vm, (gpa))
#define map_page(g, pml4, gva, gpa)                                                  \
	bench_map_page((g)->vm, &(g)->next_table, (pml4), (gva), (gpa), 0x67, 1)


struct guest {
	struct smmu_vm *vm;
	uint64_t next_table; /* bump allocator for page-table frames */
	uint64_t pml4, pdpt;
	uint64_t pd[512];    /* PD gpa per PDPT index, 0 if none */
};

static uint64_t new_table(struct guest *g)
{
	uint64_t gpa = g->next_table;

	g->next_table += 4096;
	return gpa;
}

/*
 * Touch guest frames from the host side first, so that the figures measure
 * the MMU and not the host kernel's first-touch page faults on the arena.
 */
static void prefault_host(struct guest *g, uint64_t gpa, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++)
		wq(g, gpa + i * 4096 + 4088, rq(g, gpa + i * 4096 + 4088));
}

static struct smmu_vm *make_vm(bool unsync, uint64_t guest_mb)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *vm;

	smmu_vm_config_default(&cfg);
	cfg.unsync = unsync;
	cfg.arena_bytes = 8ull << 30;
	if (smmu_vm_create(&cfg, &vm)) {
		fprintf(stderr, "bench_mmu: cannot create a VM\n");
		exit(1);
	}
	if (smmu_vm_add_slot(vm, 0, 0, guest_mb << 20, 0)) {
		fprintf(stderr, "bench_mmu: cannot add guest memory\n");
		exit(1);
	}
	return vm;
}

static void enter_long_mode(struct guest *g, uint64_t cr3)
{
	struct smmu_outcome o;

	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_CR4, 0x20, &o);
	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_EFER, 0x100, &o);
	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_CR3, cr3, &o);
	smmu_vcpu_write_reg(g->vm, 0, SMMU_REG_CR0, 0x80010011, &o);
}

static void guest_init(struct guest *g, bool unsync, uint64_t guest_mb)
{
	memset(g, 0, sizeof(*g));
	g->vm = make_vm(unsync, guest_mb);
	g->next_table = PT_BASE;
	g->pml4 = PML4_GPA;
}

static uint64_t touch(struct guest *g, uint64_t gva)
{
	struct smmu_outcome o;

	smmu_vcpu_read(g->vm, 0, gva, 8, &o);
	return o.value + o.result;
}

#define FAULT_TABLES 32 /* leaf page tables whose pages the fault loop touches */
#define NEW_PT       256 /* faults that each create a leaf shadow page */

/* Touch [gva, gva + n pages) once each. */
static uint64_t touch_pages(struct guest *g, uint64_t gva, uint64_t stride, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		sum += touch(g, gva + i * stride);
	return sum;
}

/*
 * The three timed loops, NOINLINE so that callgrind can count each alone
 * (--toggle-collect=present_faults, for instance; divide by the accesses).
 */
static uint64_t touch_fault_tables(struct guest *g)
{
	uint64_t sum = 0;

	for (unsigned t = 0; t < FAULT_TABLES; t++)
		sum += touch_pages(g, GVA_BASE + t * (2ull << 20) + 4096, 4096, 511);
	return sum;
}

static NOINLINE uint64_t present_faults(struct guest *g)
{
	return touch_fault_tables(g);
}

/* Not folded into present_faults by the linker: callgrind must tell them apart. */
static NOINLINE uint64_t tlb_misses(struct guest *g)
{
	return touch_fault_tables(g) ^ 1;
}

static NOINLINE uint64_t new_pt_faults(struct guest *g, uint64_t gva)
{
	return touch_pages(g, gva, 2ull << 20, NEW_PT);
}

/*
 * Faults that install 4K sptes.  FAULT_TABLES leaf page tables of 512 pages
 * each have their shadow pages created by touching their first page; the
 * other 511 pages of each are then the sps-present faults (16,352 per run,
 * 64 MiB of data, so caches are not warm by luck).  The same accesses after a
 * TLB flush are the baseline; then NEW_PT faults that each create a leaf sp.
 */

static void bench_faults(void)
{
	double present[RUNS], newpt[RUNS], miss[RUNS];
	const unsigned per = FAULT_TABLES * 511;

	for (unsigned r = 0; r < RUNS; r++) {
		struct guest g;
		uint64_t t0, sum = 0;
		const uint64_t newpt_gva = GVA_BASE + FAULT_TABLES * (2ull << 20);

		guest_init(&g, true, 1024);
		for (unsigned i = 0; i < FAULT_TABLES * 512; i++)
			map_page(&g, g.pml4, GVA_BASE + i * 4096ull, DATA_GPA + i * 4096ull);
		for (unsigned p = 0; p < NEW_PT; p++)
			map_page(&g, g.pml4, newpt_gva + p * (2ull << 20), DATA_GPA + p * 4096ull);
		prefault_host(&g, DATA_GPA, FAULT_TABLES * 512);
		prefault_host(&g, PT_BASE, (g.next_table - PT_BASE) / 4096);
		enter_long_mode(&g, g.pml4);
		/* Creates the root, the path and each leaf sp. */
		sum += touch_pages(&g, GVA_BASE, 2ull << 20, FAULT_TABLES);
		t0 = bench_now_ns();
		sum += present_faults(&g);
		present[r] = (double)(bench_now_ns() - t0) / per;
		smmu_vcpu_flush(g.vm, 0);
		t0 = bench_now_ns();
		sum += tlb_misses(&g);
		miss[r] = (double)(bench_now_ns() - t0) / per;
		t0 = bench_now_ns();
		sum += new_pt_faults(&g, newpt_gva);
		newpt[r] = (double)(bench_now_ns() - t0) / NEW_PT;
		bench_sink(sum);
		smmu_vm_destroy(g.vm);
	}
	bench_report("fault_4k_sps_present", "ns", present, RUNS);
	bench_report("fault_4k_new_pt", "ns", newpt, RUNS);
	bench_report("tlb_miss_spte_present", "ns", miss, RUNS);
}

/* Two address spaces sharing nothing; alternate cr3 and touch one page. */
static void bench_cr3_switch(void)
{
	double t[RUNS];
	const unsigned iters = 20000;

	for (unsigned r = 0; r < RUNS; r++) {
		struct guest g;
		struct smmu_outcome o;
		uint64_t t0, sum = 0, pml4b;

		guest_init(&g, true, 256);
		pml4b = new_table(&g);
		map_page(&g, g.pml4, GVA_BASE, DATA_GPA);
		map_page(&g, pml4b, GVA_BASE, DATA_GPA + 4096);
		enter_long_mode(&g, g.pml4);
		touch(&g, GVA_BASE);
		smmu_vcpu_write_reg(g.vm, 0, SMMU_REG_CR3, pml4b, &o);
		touch(&g, GVA_BASE);
		t0 = bench_now_ns();
		for (unsigned i = 0; i < iters; i++) {
			smmu_vcpu_write_reg(g.vm, 0, SMMU_REG_CR3, (i & 1) ? pml4b : g.pml4, &o);
			sum += touch(&g, GVA_BASE);
		}
		t[r] = (double)(bench_now_ns() - t0) / iters;
		bench_sink(sum);
		smmu_vm_destroy(g.vm);
	}
	bench_report("cr3_switch_cached", "ns", t, RUNS);
}

/* NOINLINE for callgrind (--toggle-collect=mmio_reads). */
static NOINLINE uint64_t mmio_reads(struct guest *g, uint64_t gva, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		sum += touch(g, gva + 8 * (i & 511));
	return sum;
}

/*
 * A guest reading a page no memslot backs (a device register, say) again
 * and again: each read misses the TLB (MMIO is never cached there), stops
 * at the MMIO spte and is answered from it without a guest walk.
 */
static void bench_mmio(void)
{
	double t[RUNS];
	const unsigned iters = 20000;

	for (unsigned r = 0; r < RUNS; r++) {
		struct guest g;
		uint64_t t0, sum = 0;

		guest_init(&g, true, 256);
		map_page(&g, g.pml4, GVA_BASE, 1ull << 32); /* 4 GiB: beyond the 256 MiB slot */
		prefault_host(&g, PT_BASE, (g.next_table - PT_BASE) / 4096);
		enter_long_mode(&g, g.pml4);
		touch(&g, GVA_BASE); /* the walk that leaves the MMIO spte */
		t0 = bench_now_ns();
		sum += mmio_reads(&g, GVA_BASE, iters);
		t[r] = (double)(bench_now_ns() - t0) / iters;
		bench_sink(sum);
		smmu_vm_destroy(g.vm);
	}
	bench_report("mmio_read_repeat", "ns", t, RUNS);
}

/* Guest writes to its own page table through a mapping of it. */
static void bench_gpte_writes(bool unsync, const char *name)
{
	double t[RUNS];
	const unsigned iters = 20000;

	for (unsigned r = 0; r < RUNS; r++) {
		struct guest g;
		struct smmu_outcome o;
		uint64_t t0, pt_gpa, pt_gva = GVA_BASE + 511 * 4096ull;

		guest_init(&g, unsync, 256);
		for (unsigned i = 0; i < 8; i++)
			map_page(&g, g.pml4, GVA_BASE + i * 4096ull, DATA_GPA + i * 4096ull);
		/* The PT maps itself at its last entry. */
		pt_gpa = rq(&g, rq(&g, rq(&g, g.pml4) & ~0xfffull) + 8 * 1) & ~0xfffull;
		pt_gpa = rq(&g, pt_gpa) & ~0xfffull;
		map_page(&g, g.pml4, pt_gva, pt_gpa);
		enter_long_mode(&g, g.pml4);
		for (unsigned i = 0; i < 8; i++)
			touch(&g, GVA_BASE + i * 4096ull);
		t0 = bench_now_ns();
		for (unsigned i = 0; i < iters; i++) {
			unsigned e = 1 + (i % 7);

			/* As an OS remaps a page: write the pte, invalidate, use it. */
			smmu_vcpu_write(g.vm, 0, pt_gva + 8 * e, 8, (DATA_GPA + (i % 64) * 4096ull) | 0x67, &o);
			smmu_vcpu_invlpg(g.vm, 0, GVA_BASE + e * 4096ull, &o);
			touch(&g, GVA_BASE + e * 4096ull);
		}
		t[r] = (double)(bench_now_ns() - t0) / iters;
		smmu_vm_destroy(g.vm);
	}
	bench_report(name, "ns", t, RUNS);
}

/* zap-all over n shadow pages: what the vCPU waits for, then the deferred reclaim. */
static void bench_zap_all(unsigned npages)
{
	double zap[3], reclaim[3];
	char name[64];

	for (unsigned r = 0; r < 3; r++) {
		struct guest g;
		struct smmu_stats st;
		uint64_t t0, mb = 64 + (uint64_t)npages * 4096 / (1 << 20) * 2;

		guest_init(&g, true, mb < 64 ? 64 : mb);
		/* One PT per 2 MiB of gva: each touched PT is one leaf shadow page. */
		for (unsigned p = 0; p < npages; p++)
			map_page(&g, g.pml4, GVA_BASE + (uint64_t)p * (2ull << 20),
			         DATA_GPA + (p % 2048) * 4096ull);
		enter_long_mode(&g, g.pml4);
		for (unsigned p = 0; p < npages; p++)
			touch(&g, GVA_BASE + (uint64_t)p * (2ull << 20));
		smmu_vm_get_stats(g.vm, &st);
		t0 = bench_now_ns();
		smmu_vm_zap_all(g.vm);
		zap[r] = (double)(bench_now_ns() - t0);
		t0 = bench_now_ns();
		for (unsigned p = 0; p < npages; p++) /* each fault frees a batch of obsolete pages */
			touch(&g, GVA_BASE + (uint64_t)p * (2ull << 20));
		reclaim[r] = (double)(bench_now_ns() - t0) / (double)st.shadow_pages;
		smmu_vm_destroy(g.vm);
	}
	snprintf(name, sizeof(name), "zap_all_%u_sps", npages);
	bench_report(name, "ns", zap, 3);
	snprintf(name, sizeof(name), "refault_after_zap_per_sp_%u", npages);
	bench_report(name, "ns", reclaim, 3);
}

static void bench_metadata(void)
{
	struct guest g;
	struct smmu_stats st;
	const unsigned npt = 64;

	guest_init(&g, true, 256);
	for (unsigned p = 0; p < npt; p++)
		map_page(&g, g.pml4, GVA_BASE + (uint64_t)p * (2ull << 20), DATA_GPA + p * 4096ull);
	enter_long_mode(&g, g.pml4);
	for (unsigned p = 0; p < npt; p++)
		touch(&g, GVA_BASE + (uint64_t)p * (2ull << 20));
	smmu_vm_get_stats(g.vm, &st);
	bench_report_value("shadow_pages", "pages", (double)st.shadow_pages);
	bench_report_value("bytes_per_sp_header", "B", (double)st.bytes_sp_headers / st.shadow_pages);
	bench_report_value("bytes_per_sp_indirect", "B",
	                   (double)(st.bytes_sp_headers + st.bytes_shadowed) / st.shadow_pages + 4096);
	bench_report_value("bytes_per_sp_direct", "B",
	                   (double)st.bytes_sp_headers / st.shadow_pages + 4096);
	bench_report_value("bytes_memslot_meta_per_guest_page", "B",
	                   (double)st.bytes_memslot_meta / st.guest_pages);
	smmu_vm_destroy(g.vm);
}

/* `bench_mmu [--json] [GROUP...]`: groups faults, cr3, mmio, gpte, zap, meta (default: all). */
int main(int argc, char **argv)
{
	bench_init(argc, argv);
	if (bench_want(argc, argv, "faults"))
		bench_faults();
	if (bench_want(argc, argv, "cr3"))
		bench_cr3_switch();
	if (bench_want(argc, argv, "mmio"))
		bench_mmio();
	if (bench_want(argc, argv, "gpte")) {
		bench_gpte_writes(false, "gpte_write_invlpg_touch_emulated");
		bench_gpte_writes(true, "gpte_write_invlpg_touch_unsync");
	}
	if (bench_want(argc, argv, "zap")) {
		bench_zap_all(1000);
		bench_zap_all(100000);
	}
	if (bench_want(argc, argv, "meta"))
		bench_metadata();
	return bench_finish();
}
