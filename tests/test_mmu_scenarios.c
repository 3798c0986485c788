/*
 * test_mmu_scenarios.c - one hand-written guest per shadow-MMU mechanism
 * (write flooding, unsync + invlpg, shared and self-mapping page tables,
 * 32-bit quadrants, zap-all, the root cache, recycling, A/D bits, CR0.WP),
 * asserting on what the guest sees and on the KVM-named statistics.
 *
 * The guest (4-level unless said otherwise): a kernel direct map of gpa
 * [0, 8M) at gva 0 made of 2M pages (PML4[0] -> PDPT 0x2000 -> PD 0x3000),
 * shared by every address space; user mappings live at gva USER (PML4[1]),
 * per address space.  Page tables are written by the guest itself through
 * the direct map at CPL 0, before and after paging is on, so every table
 * edit goes through the MMU as a guest kernel's would.
 */
#include <string.h>

#include <shadowmmu/shadowmmu.h>

#include "support/check.h"

#define USER      0x8000000000ull /* PML4[1] */
#define TABLES    0x10000ull      /* page tables are allocated from here */
#define DATA      0x400000ull     /* data pages from 4M */
#define PT_FLAGS  (X86_PTE_P | X86_PTE_RW | X86_PTE_US)
#define CR0_PG_WP 0x80010011ull
#define CR0_PG    0x80000011ull

struct guest {
	struct smmu_vm *vm;
	uint64_t next_table;
};

static bool new_guest(struct guest *g, bool unsync, uint64_t max_pages)
{
	struct smmu_vm_config cfg;

	memset(g, 0, sizeof(*g));
	smmu_vm_config_default(&cfg);
	cfg.audit = true;
	cfg.arena_bytes = 128ull << 20;
	cfg.unsync = unsync;
	cfg.n_max_mmu_pages = max_pages;
	if (smmu_vm_create(&cfg, &g->vm) || smmu_vm_add_slot(g->vm, 0, 0, 16 << 20, 0))
		return false;
	g->next_table = TABLES;
	return true;
}

static struct smmu_outcome gw(struct guest *g, uint64_t gva, unsigned size, uint64_t val)
{
	struct smmu_outcome o;

	smmu_vcpu_write(g->vm, 0, gva, size, val, &o);
	return o;
}

static struct smmu_outcome gr(struct guest *g, uint64_t gva, unsigned size)
{
	struct smmu_outcome o;

	smmu_vcpu_read(g->vm, 0, gva, size, &o);
	return o;
}

static enum smmu_result reg(struct guest *g, enum smmu_reg r, uint64_t val)
{
	struct smmu_outcome o;

	smmu_vcpu_write_reg(g->vm, 0, r, val, &o);
	return o.result;
}

static void invlpg(struct guest *g, uint64_t gva)
{
	struct smmu_outcome o;

	smmu_vcpu_invlpg(g->vm, 0, gva, &o);
}

static uint64_t peek(struct guest *g, uint64_t gpa)
{
	uint64_t v = 0;

	smmu_vm_read_gpa(g->vm, gpa, &v, 8);
	return v;
}

static struct smmu_stats stats(struct guest *g)
{
	struct smmu_stats s;

	smmu_vm_get_stats(g->vm, &s);
	return s;
}

static uint64_t alloc_table(struct guest *g)
{
	uint64_t t = g->next_table;

	g->next_table += 4096;
	return t;
}

/* A new address space: its own PML4 sharing the kernel direct map. */
static uint64_t new_as(struct guest *g)
{
	uint64_t pml4 = alloc_table(g);

	gw(g, pml4, 8, 0x2000 | PT_FLAGS);
	return pml4;
}

/* The gpa of the level-1 entry for gva, creating missing tables. */
static uint64_t pte_gpa(struct guest *g, uint64_t pml4, uint64_t gva)
{
	uint64_t table = pml4;

	for (unsigned level = 4; level > 1; level--) {
		uint64_t e = table + ((gva >> (12 + 9 * (level - 1))) & 511) * 8;
		uint64_t v = peek(g, e);

		if (!(v & X86_PTE_P)) {
			v = alloc_table(g) | PT_FLAGS;
			gw(g, e, 8, v);
		}
		table = v & 0xffffffffff000ull;
	}
	return table + ((gva >> 12) & 511) * 8;
}

static void map(struct guest *g, uint64_t pml4, uint64_t gva, uint64_t gpa, uint64_t flags)
{
	gw(g, pte_gpa(g, pml4, gva), 8, gpa | flags);
}

/* Kernel direct map (2M pages, supervisor) and 4-level paging on `pml4`. */
static void boot(struct guest *g, uint64_t pml4, uint64_t cr0)
{
	gw(g, 0x2000, 8, 0x3000 | PT_FLAGS);
	for (uint64_t i = 0; i < 4; i++)
		gw(g, 0x3000 + i * 8, 8, (i << 21) | X86_PTE_P | X86_PTE_RW | X86_PTE_PS);
	reg(g, SMMU_REG_CR4, X86_CR4_PAE);
	reg(g, SMMU_REG_EFER, X86_EFER_LME | X86_EFER_NXE);
	reg(g, SMMU_REG_CR3, pml4);
	CHECK_EQ(reg(g, SMMU_REG_CR0, cr0), SMMU_OK);
}

/*
 * A test is `static void test_...(struct guest *g)` on a fresh guest from
 * new_guest() - unsync on and no shadow-page cap unless main() says
 * otherwise; the runner destroys its VM after.
 */
static void (*guest_test)(struct guest *g);
static bool guest_test_unsync;
static uint64_t guest_test_max_pages;

static void run_guest_test(void)
{
	struct guest g;

	REQUIRE(new_guest(&g, guest_test_unsync, guest_test_max_pages));
	guest_test(&g);
	smmu_vm_destroy(g.vm);
}

#define RUN_GUEST_WITH(unsync, max_pages, fn)                                                      \
	(guest_test_unsync = (unsync), guest_test_max_pages = (max_pages), guest_test = (fn),      \
	 check_run(#fn, run_guest_test))
#define RUN_GUEST(fn) RUN_GUEST_WITH(true, 0, fn)

/* ---- tests ---------------------------------------------------------------- */

static void test_write_flooding_unshadows_table_the_guest_stopped_walking(struct guest *g)
{
	uint64_t pml4, pte, pt;
	struct smmu_stats s0, s1, s2;

	pml4 = new_as(g);
	map(g, pml4, USER, DATA, PT_FLAGS);
	pte = pte_gpa(g, pml4, USER);
	pt = pte & ~0xfffull;
	boot(g, pml4, CR0_PG_WP);
	CHECK_EQ(gw(g, USER, 8, 7).result, SMMU_OK); /* pt is now shadowed */
	s0 = stats(g);
	/* the guest reuses the table's page as data: writes, no walks through it */
	for (unsigned i = 0; i < 20; i++)
		CHECK_EQ(gw(g, pt + 8 * (100 + i), 8, i).result, SMMU_OK);
	s1 = stats(g);
	CHECK(s1.mmu_flooded > s0.mmu_flooded);
	CHECK(s1.mmu_pte_write > s0.mmu_pte_write);
	CHECK(s1.mmu_pte_write - s0.mmu_pte_write < 10);
	for (unsigned i = 0; i < 20; i++)
		CHECK_EQ(gw(g, pt + 8 * (200 + i), 8, i).result, SMMU_OK);
	s2 = stats(g);
	CHECK_EQ(s2.mmu_pte_write, s1.mmu_pte_write); /* no longer write-protected */
	CHECK_EQ(gr(g, pt + 8 * 219, 8).value, 19);
	CHECK_EQ(gr(g, USER, 8).value, 7); /* still translates right */
}

static void test_unsync_pte_change_is_seen_after_invlpg(struct guest *g)
{
	uint64_t pml4, pte;
	struct smmu_stats s;

	pml4 = new_as(g);
	map(g, pml4, USER, DATA, PT_FLAGS);
	pte = pte_gpa(g, pml4, USER);
	boot(g, pml4, CR0_PG_WP);
	gw(g, 0x500000, 8, 0xbbbb); /* the new target, through the direct map */
	CHECK_EQ(gw(g, USER, 8, 0xaaaa).result, SMMU_OK);
	CHECK_EQ(gw(g, pte, 8, 0x500000 | PT_FLAGS).result, SMMU_OK);
	s = stats(g);
	CHECK(s.mmu_unsync > 0);
	(void)gr(g, USER, 8); /* old or new: the TLB may keep the old one */
	invlpg(g, USER);
	CHECK_EQ(gr(g, USER, 8).value, 0xbbbb);
	CHECK_EQ(gw(g, USER, 8, 0xcccc).result, SMMU_OK);
	CHECK_EQ(peek(g, 0x500000), 0xcccc);
	CHECK_EQ(peek(g, DATA), 0xaaaa);
}

static void test_page_table_shared_by_two_address_spaces(struct guest *g)
{
	uint64_t as0, as1, pte, pd1;

	as0 = new_as(g);
	as1 = new_as(g);
	map(g, as0, USER, DATA, PT_FLAGS);
	pte = pte_gpa(g, as0, USER);
	/* as1's PD entry for USER points at as0's page table */
	pd1 = pte_gpa(g, as1, USER + 0x200000) & ~0xfffull; /* as1's PT for another 2M */
	(void)pd1;
	{
		uint64_t pdpt1 = peek(g, as1 + 8) & ~0xfffull;
		uint64_t pd = peek(g, pdpt1) & ~0xfffull;

		gw(g, pd, 8, (pte & ~0xfffull) | PT_FLAGS);
	}
	boot(g, as0, CR0_PG_WP);
	CHECK_EQ(gw(g, USER + 8, 8, 0x1234).result, SMMU_OK);
	CHECK_EQ(reg(g, SMMU_REG_CR3, as1), SMMU_OK);
	CHECK_EQ(gr(g, USER + 8, 8).value, 0x1234);
	/* edit the shared PTE from as1; as0 must see it after its cr3 load */
	gw(g, 0x600000, 8, 0x5678);
	CHECK_EQ(gw(g, pte, 8, 0x600000 | PT_FLAGS).result, SMMU_OK);
	invlpg(g, USER);
	CHECK_EQ(gr(g, USER, 8).value, 0x5678);
	CHECK_EQ(reg(g, SMMU_REG_CR3, as0), SMMU_OK);
	CHECK_EQ(gr(g, USER, 8).value, 0x5678);
}

static void test_page_table_mapping_itself_reads_and_edits_its_entries(struct guest *g)
{
	uint64_t pml4, pte, pt, self = USER + 0x1000;

	pml4 = new_as(g);
	map(g, pml4, USER, DATA, PT_FLAGS);
	pte = pte_gpa(g, pml4, USER);
	pt = pte & ~0xfffull;
	map(g, pml4, self, pt, PT_FLAGS); /* the PT maps itself at USER + 4K */
	boot(g, pml4, CR0_PG_WP);
	CHECK_EQ(gw(g, USER, 8, 0x42).result, SMMU_OK);
	/* through the self map: entry 0 with A and D set by the walk */
	CHECK_EQ(gr(g, self, 8).value, DATA | PT_FLAGS | X86_PTE_A | X86_PTE_D);
	/* edit entry 0 through the self map, then invlpg */
	gw(g, 0x700000, 8, 0x99);
	CHECK_EQ(gw(g, self, 8, 0x700000 | PT_FLAGS).result, SMMU_OK);
	invlpg(g, USER);
	CHECK_EQ(gr(g, USER, 8).value, 0x99);
	CHECK_EQ(peek(g, pt), 0x700000 | PT_FLAGS | X86_PTE_A);
}

static void test_32bit_pd_entries_in_every_quadrant_translate(struct guest *g)
{
	const uint64_t pd = 0x1000;

	/* paging off: gva = gpa; PD at 0x1000, identity 4M page for the tables */
	gw(g, pd, 4, X86_PTE_P | X86_PTE_RW | X86_PTE_PS);
	for (unsigned q = 0; q < 4; q++) {
		uint64_t pt = 0x10000 + q * 0x1000, gva = (uint64_t)q << 30 | 0x400000;

		gw(g, pd + (gva >> 22) * 4, 4, pt | PT_FLAGS);
		for (unsigned i = 0; i < 2; i++) /* entries in both halves of the PT */
			gw(g, pt + (i * 512 + q) * 4, 4, (DATA + (q * 2 + i) * 0x1000) | PT_FLAGS);
		gw(g, DATA + (q * 2) * 0x1000, 4, 100 + q * 2);
		gw(g, DATA + (q * 2 + 1) * 0x1000, 4, 101 + q * 2);
	}
	gw(g, DATA + 0x10000, 4, 777); /* for the edit below */
	CHECK_EQ(reg(g, SMMU_REG_CR4, X86_CR4_PSE), SMMU_OK);
	CHECK_EQ(reg(g, SMMU_REG_CR3, pd), SMMU_OK);
	CHECK_EQ(reg(g, SMMU_REG_CR0, CR0_PG_WP), SMMU_OK);
	for (unsigned q = 0; q < 4; q++) {
		uint64_t gva = (uint64_t)q << 30 | 0x400000;

		CHECK_EQ(gr(g, gva + q * 0x1000, 4).value, 100 + q * 2);
		CHECK_EQ(gr(g, gva + 0x200000 + q * 0x1000, 4).value, 101 + q * 2);
	}
	/* edit one PTE of quadrant 3's upper half; invlpg; see it */
	gw(g, 0x10000 + 3 * 0x1000 + (512 + 3) * 4, 4, (DATA + 0x10000) | PT_FLAGS);
	invlpg(g, (3ull << 30) | 0x600000 | 0x3000);
	CHECK_EQ(gr(g, (3ull << 30) | 0x603000, 4).value, 777);
}

static void test_zap_all_mid_workload_changes_nothing_visible(struct guest *g)
{
	uint64_t pml4;

	pml4 = new_as(g);
	for (unsigned i = 0; i < 32; i++)
		map(g, pml4, USER + i * 0x1000, DATA + i * 0x1000, PT_FLAGS);
	boot(g, pml4, CR0_PG_WP);
	for (unsigned i = 0; i < 32; i++)
		CHECK_EQ(gw(g, USER + i * 0x1000, 8, i * 3).result, SMMU_OK);
	smmu_vm_zap_all(g->vm);
	CHECK_EQ(stats(g).zap_all, 1);
	for (unsigned i = 0; i < 32; i++) {
		CHECK_EQ(gr(g, USER + i * 0x1000, 8).value, i * 3);
		CHECK_EQ(gw(g, USER + i * 0x1000, 8, i * 5).result, SMMU_OK);
	}
	smmu_vm_zap_all(g->vm);
	for (unsigned i = 0; i < 32; i++)
		CHECK_EQ(gr(g, USER + i * 0x1000, 8).value, i * 5);
	CHECK_EQ(stats(g).zap_all, 2);
}

static void test_cr3_switch_back_hits_the_root_cache(struct guest *g)
{
	uint64_t as0, as1;
	struct smmu_stats s0;

	as0 = new_as(g);
	as1 = new_as(g);
	map(g, as0, USER, DATA, PT_FLAGS);
	map(g, as1, USER, DATA + 0x1000, PT_FLAGS);
	gw(g, DATA, 8, 10);
	gw(g, DATA + 0x1000, 8, 11);
	boot(g, as0, CR0_PG_WP);
	CHECK_EQ(gr(g, USER, 8).value, 10);
	CHECK_EQ(reg(g, SMMU_REG_CR3, as1), SMMU_OK);
	CHECK_EQ(gr(g, USER, 8).value, 11);
	s0 = stats(g);
	for (unsigned i = 0; i < 10; i++) {
		CHECK_EQ(reg(g, SMMU_REG_CR3, i & 1 ? as1 : as0), SMMU_OK);
		CHECK_EQ(gr(g, USER, 8).value, 10 + (i & 1));
	}
	CHECK(stats(g).root_cache_hit >= s0.root_cache_hit + 9);
}

static void test_small_n_max_mmu_pages_recycles_and_stays_correct(struct guest *g)
{
	uint64_t pml4;
	struct smmu_stats s;

	pml4 = new_as(g);
	for (unsigned i = 0; i < 48; i++) /* one PT per 2M: 48 page tables */
		map(g, pml4, USER + i * 0x200000ull, DATA + i * 0x1000, PT_FLAGS);
	boot(g, pml4, CR0_PG_WP);
	for (unsigned round = 0; round < 2; round++)
		for (unsigned i = 0; i < 48; i++) {
			uint64_t gva = USER + i * 0x200000ull;

			if (round == 0)
				CHECK_EQ(gw(g, gva, 8, i + 1000).result, SMMU_OK);
			else
				CHECK_EQ(gr(g, gva, 8).value, i + 1000);
		}
	s = stats(g);
	CHECK(s.mmu_recycled > 0);
	CHECK(s.shadow_pages <= 16);
}

static void test_read_sets_accessed_and_write_sets_dirty_in_gptes(struct guest *g)
{
	uint64_t pml4, pte, pde;

	pml4 = new_as(g);
	map(g, pml4, USER, DATA, PT_FLAGS);
	pte = pte_gpa(g, pml4, USER);
	boot(g, pml4, CR0_PG_WP);
	CHECK_EQ(peek(g, pte) & (X86_PTE_A | X86_PTE_D), 0);
	CHECK_EQ(gr(g, USER, 8).result, SMMU_OK);
	CHECK_EQ(peek(g, pte) & (X86_PTE_A | X86_PTE_D), X86_PTE_A);
	pde = peek(g, peek(g, peek(g, pml4 + 8) & ~0xfffull) & ~0xfffull);
	CHECK(pde & X86_PTE_A);
	CHECK_EQ(gw(g, USER, 8, 1).result, SMMU_OK);
	CHECK_EQ(peek(g, pte) & (X86_PTE_A | X86_PTE_D), X86_PTE_A | X86_PTE_D);
	/* the guest cleans D, invlpgs: the next write sets it again */
	gw(g, pte, 8, DATA | PT_FLAGS | X86_PTE_A);
	invlpg(g, USER);
	CHECK_EQ(gr(g, USER, 8).value, 1);
	CHECK_EQ(peek(g, pte) & X86_PTE_D, 0);
	CHECK_EQ(gw(g, USER, 8, 2).result, SMMU_OK);
	CHECK(peek(g, pte) & X86_PTE_D);
}

static void test_cr0_wp_decides_supervisor_write_to_read_only_page(struct guest *g)
{
	uint64_t pml4;
	struct smmu_outcome o;

	pml4 = new_as(g);
	map(g, pml4, USER, DATA, X86_PTE_P | X86_PTE_US);
	boot(g, pml4, CR0_PG);
	CHECK_EQ(gw(g, USER, 8, 5).result, SMMU_OK); /* WP = 0: allowed at CPL 0 */
	CHECK_EQ(peek(g, DATA), 5);
	smmu_vcpu_set_cpl(g->vm, 0, 3);
	o = gw(g, USER, 8, 6); /* CPL 3 never writes a read-only page */
	CHECK_EQ(o.result, SMMU_PF);
	CHECK_EQ(o.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	CHECK_EQ(gr(g, USER, 8).value, 5);
	smmu_vcpu_set_cpl(g->vm, 0, 0);
	CHECK_EQ(reg(g, SMMU_REG_CR0, CR0_PG_WP), SMMU_OK);
	o = gw(g, USER, 8, 7);
	CHECK_EQ(o.result, SMMU_PF);
	CHECK_EQ(o.error_code, X86_PFEC_P | X86_PFEC_W);
	CHECK_EQ(peek(g, DATA), 5);
}

int main(void)
{
	RUN_GUEST_WITH(false, 0, test_write_flooding_unshadows_table_the_guest_stopped_walking);
	RUN_GUEST(test_unsync_pte_change_is_seen_after_invlpg);
	RUN_GUEST(test_page_table_shared_by_two_address_spaces);
	RUN_GUEST(test_page_table_mapping_itself_reads_and_edits_its_entries);
	RUN_GUEST(test_32bit_pd_entries_in_every_quadrant_translate);
	RUN_GUEST(test_zap_all_mid_workload_changes_nothing_visible);
	RUN_GUEST(test_cr3_switch_back_hits_the_root_cache);
	RUN_GUEST_WITH(true, 16, test_small_n_max_mmu_pages_recycles_and_stays_correct);
	RUN_GUEST(test_read_sets_accessed_and_write_sets_dirty_in_gptes);
	RUN_GUEST(test_cr0_wp_decides_supervisor_write_to_read_only_page);
	return check_finish();
}
