/*
 * test_walk_corners.c - hand-written guest page walks with explicit
 * expected values, each naming the SDM Vol. 3A ch. 4 rule it checks.
 *
 * Every walk runs twice, on two identical guest memories: through the
 * production smmu_x86_walk() and through the reference ref_walk(); both
 * results must equal the values written here, and both memories must end
 * up equal (A/D bits).  The PAE PDPTE-load and LA57 cases set up their
 * state with smmu_x86_write_cr*(); the others set registers directly.
 */
#include <shadowmmu/x86.h>

#include "ref/ref_walker.h"
#include "support/check.h"
#include "support/guestmem.h"
#include "support/pte_names.h"

#include <errno.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MEM_SIZE (4ull << 20)
#define ADDR52   0x000ffffffffff000ull

/* The results of one walk through both walkers. */
struct both {
	struct smmu_walk prod, ref;
	bool mem_equal; /* guest memories equal after the two walks */
};

/* One test's guest: memory, registers, CPU model, a bump table allocator, the last walk. */
struct env {
	struct guestmem *gm;
	struct smmu_cpu_state s;
	struct smmu_cpu_model m;
	enum smmu_paging_mode mode;
	uint64_t next_table; /* next free 4 KiB page for a paging structure */
	struct both b;       /* what walk_both() saw last */
};

/* Registers for `mode`, set directly (root table at 0x1000; EFER.NXE on). */
static void env_init(struct env *e, enum smmu_paging_mode mode)
{
	memset(e, 0, sizeof(*e));
	e->gm = guestmem_create(MEM_SIZE);
	smmu_cpu_model_default(&e->m);
	smmu_cpu_state_reset(&e->s);
	e->mode = mode;
	e->next_table = 0x2000;
	if (mode == SMMU_PAGING_OFF)
		return;
	e->s.cr0 |= X86_CR0_PG | X86_CR0_WP;
	e->s.cr3 = 0x1000;
	if (mode == SMMU_PAGING_32BIT)
		return;
	e->s.cr4 |= X86_CR4_PAE;
	e->s.efer |= X86_EFER_NXE;
	if (mode == SMMU_PAGING_PAE)
		return;
	e->s.efer |= X86_EFER_LME | X86_EFER_LMA;
	if (mode == SMMU_PAGING_5LEVEL)
		e->s.cr4 |= X86_CR4_LA57;
}

static void env_fini(struct env *e)
{
	guestmem_destroy(e->gm);
}

static unsigned env_entry_size(const struct env *e)
{
	return e->mode == SMMU_PAGING_32BIT ? 4 : 8;
}

static unsigned env_root_level(const struct env *e)
{
	static const unsigned roots[] = {0, 2, 3, 4, 5};

	return roots[e->mode];
}

/* The index of gva's entry in its level's table (SDM Figures 4-2, 4-5, 4-8). */
static uint64_t env_index(const struct env *e, unsigned level, uint64_t gva)
{
	if (e->mode == SMMU_PAGING_32BIT)
		return level == 2 ? (gva >> 22) & 0x3ff : (gva >> 12) & 0x3ff;
	if (e->mode == SMMU_PAGING_PAE && level == 3)
		return (gva >> 30) & 3;
	return (gva >> (12 + 9 * (level - 1))) & 0x1ff;
}

static uint64_t env_write(struct env *e, uint64_t gpa, uint64_t val)
{
	if (env_entry_size(e) == 4)
		guestmem_write32(e->gm, gpa, (uint32_t)val);
	else
		guestmem_write64(e->gm, gpa, val);
	return gpa;
}

/*
 * Map gva by writing `leaf` as its entry at leaf_level, creating missing
 * tables with entries `table | flags` on the way (PAE: the PDPTE registers
 * and the PDPT in memory).  Returns the gpa of the leaf entry.
 */
static uint64_t env_map(struct env *e, uint64_t gva, unsigned leaf_level, uint64_t leaf,
                        uint64_t flags)
{
	unsigned size = env_entry_size(e);
	uint64_t table = e->s.cr3 & (e->mode == SMMU_PAGING_PAE ? 0xffffffe0ull : ADDR52);

	for (unsigned level = env_root_level(e); level > leaf_level; level--) {
		uint64_t idx = env_index(e, level, gva), gpa = table + idx * size;
		uint64_t entry = guestmem_peek(e->gm, gpa, size);

		if (e->mode == SMMU_PAGING_PAE && level == 3)
			entry = e->s.pdptrs[idx];
		if (!(entry & P)) {
			entry =
			    e->next_table | (e->mode == SMMU_PAGING_PAE && level == 3 ? P : flags);
			e->next_table += 0x1000;
			env_write(e, gpa, entry);
			if (e->mode == SMMU_PAGING_PAE && level == 3)
				e->s.pdptrs[idx] = entry;
		}
		table = entry & (size == 4 ? 0xfffff000ull : ADDR52);
	}
	return env_write(e, table + env_index(e, leaf_level, gva) * size, leaf);
}

/* The gpa of gva's entry at `level`, following the (present) tables above it. */
static uint64_t env_entry_gpa(const struct env *e, uint64_t gva, unsigned level)
{
	unsigned size = env_entry_size(e);
	uint64_t table = e->s.cr3 & (e->mode == SMMU_PAGING_PAE ? 0xffffffe0ull : ADDR52);

	for (unsigned l = env_root_level(e); l > level; l--) {
		uint64_t idx = env_index(e, l, gva);
		uint64_t entry = (e->mode == SMMU_PAGING_PAE && l == 3)
		                     ? e->s.pdptrs[idx]
		                     : guestmem_peek(e->gm, table + idx * size, size);

		table = entry & (size == 4 ? 0xfffff000ull : ADDR52);
	}
	return table + env_index(e, level, gva) * size;
}

static uint64_t env_peek(const struct env *e, uint64_t gpa)
{
	return guestmem_peek(e->gm, gpa, env_entry_size(e));
}

/* Walk gva with both walkers, each on its own copy of the guest memory, into e->b. */
static void walk_both(struct env *e, uint64_t gva, enum smmu_access_type acc)
{
	struct both *b = &e->b;
	struct guestmem *ref_mem = guestmem_clone(e->gm);
	struct smmu_gpa_ops prod_ops = guestmem_ops(e->gm), ref_ops = guestmem_ops(ref_mem);
	char buf[512];

	memset(b, 0, sizeof(*b));
	ref_walk(&e->s, &e->m, &ref_ops, gva, acc, &b->ref);
	smmu_x86_walk(&e->s, &e->m, &prod_ops, gva, acc, &b->prod);
	b->mem_equal = guestmem_equal(e->gm, ref_mem, NULL);
	guestmem_destroy(ref_mem);
	if (b->prod.outcome != b->ref.outcome || b->prod.error_code != b->ref.error_code) {
		ref_walk_describe(&b->prod, buf, sizeof(buf));
		fprintf(stderr, "  %s gva=0x%llx %s: prod %s\n", ref_paging_mode_name(e->mode),
		        (unsigned long long)gva, ref_access_name(acc), buf);
		ref_walk_describe(&b->ref, buf, sizeof(buf));
		fprintf(stderr, "  %*s ref  %s\n", 30, "", buf);
	}
}

/* Both walkers produced `val` in `field`. */
#define CHECK_BOTH(b, field, val)                                                                  \
	do {                                                                                       \
		CHECK_EQ((b).prod.field, (val));                                                   \
		CHECK_EQ((b).ref.field, (val));                                                    \
	} while (0)

/* Both walkers ended in `outcome` with `val` in `field`, and left the memories equal. */
#define CHECK_WALK(b, outcome_val, field, val)                                                     \
	do {                                                                                       \
		CHECK_BOTH(b, outcome, (outcome_val));                                             \
		CHECK_BOTH(b, field, (val));                                                       \
		CHECK((b).mem_equal);                                                              \
	} while (0)

/* Both walkers faulted with error code ec, or translated to gpa_val. */
#define CHECK_PF(b, ec)      CHECK_WALK(b, SMMU_WALK_PF, error_code, ec)
#define CHECK_OK(b, gpa_val) CHECK_WALK(b, SMMU_WALK_OK, gpa, gpa_val)

/* Walk gva with both walkers (into e->b), then check it as above. */
#define WALK_THEN(e, gva, acc, check, val)                                                         \
	do {                                                                                       \
		walk_both(e, gva, acc);                                                            \
		check((e)->b, val);                                                                \
	} while (0)
#define WALK_PF(e, gva, acc, ec)      WALK_THEN(e, gva, acc, CHECK_PF, ec)
#define WALK_OK(e, gva, acc, gpa_val) WALK_THEN(e, gva, acc, CHECK_OK, gpa_val)

/*
 * A test is `static void test_...(struct env *e)` on a guest env_init() made
 * for the mode main() names; the runner frees it after.
 */
static void (*env_test)(struct env *e);
static enum smmu_paging_mode env_test_mode;

static void run_env_test(void)
{
	struct env e;

	env_init(&e, env_test_mode);
	env_test(&e);
	env_fini(&e);
}

#define RUN_IN(mode, fn) (env_test_mode = (mode), env_test = (fn), check_run(#fn, run_env_test))

/* ---- paging off, 32-bit paging and PSE-36 (SDM 4.1.1, 4.3) --------------- */

static void test_paging_off_maps_gva_to_same_gpa_with_all_rights(struct env *e)
{
	WALK_OK(e, 0x12345678, SMMU_ACCESS_WRITE, 0x12345678);
	CHECK_BOTH(e->b, level, 0);
	CHECK_BOTH(e->b, page_size, 4096);
	CHECK_BOTH(e->b, access, SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X);
	CHECK_BOTH(e->b, root_level, 0);
}

static void test_32bit_4k_walk_sets_accessed_and_dirty(struct env *e)
{
	uint64_t pte;

	pte = env_map(e, 0x00803456, 1, 0x00345000 | P | RW | US, P | RW | US);
	WALK_OK(e, 0x00803456, SMMU_ACCESS_WRITE, 0x00345456);
	CHECK_BOTH(e->b, level, 1);
	CHECK_BOTH(e->b, root_level, 2);
	CHECK_BOTH(e->b, access, SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X);
	CHECK_BOTH(e->b, gpte[0], 0x00345000 | P | RW | US | A | D);
	CHECK_BOTH(e->b, pte_gpa[0], pte);
	CHECK_BOTH(e->b, gpte[1], 0x2000 | P | RW | US | A);
	CHECK_BOTH(e->b, pte_gpa[1], 0x1000 + 2 * 4);
	CHECK_EQ(env_peek(e, pte), 0x00345000 | P | RW | US | A | D);
}

static void test_pse36_maps_4m_page_above_4g(struct env *e)
{
	uint64_t pde;

	e->s.cr4 |= X86_CR4_PSE;
	/* MAXPHYADDR 46: M = 40, PDE bits 20:13 are physical bits 39:32. */
	pde = env_map(e, 0x00c01234, 2, 0x00400000 | (0x12ull << 13) | P | RW | PS, 0);
	WALK_OK(e, 0x00c01234, SMMU_ACCESS_READ, 0x1200401234ull);
	CHECK_BOTH(e->b, level, 2);
	CHECK_BOTH(e->b, page_size, 4ull << 20);
	CHECK_BOTH(e->b, access, SMMU_ACC_W | SMMU_ACC_X);
	CHECK_EQ(env_peek(e, pde), 0x00400000 | (0x12ull << 13) | P | RW | PS | A);
}

static void test_pse36_uses_maxphyaddr_36_bits(struct env *e)
{
	e->s.cr4 |= X86_CR4_PSE;
	e->m.maxphyaddr = 36; /* M = 36: bits 16:13 are physical bits 35:32, 21:17 reserved */
	env_map(e, 0x00c01234, 2, 0x00400000 | (0x9ull << 13) | P | PS, 0);
	WALK_OK(e, 0x00c01234, SMMU_ACCESS_READ, 0x900401234ull);
	env_map(e, 0x00c01234, 2, 0x00400000 | (0x12ull << 13) | P | PS, 0); /* bit 17 */
	WALK_PF(e, 0x00c01234, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_BOTH(e->b, level, 2);
}

static void test_pse36_bit_21_is_reserved_even_at_40_bits(struct env *e)
{
	e->s.cr4 |= X86_CR4_PSE;
	e->s.cpl = 3;
	env_map(e, 0x00c01234, 2, 0x00400000 | (1ull << 21) | P | US | PS, 0);
	WALK_PF(e, 0x00c01234, SMMU_ACCESS_WRITE,
	        X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_W | X86_PFEC_U);
}

static void test_no_pse36_reserves_pde_bits_21_to_13(struct env *e)
{
	e->s.cr4 |= X86_CR4_PSE;
	e->m.pse36 = false;
	env_map(e, 0x00c01234, 2, 0x00400000 | (1ull << 13) | P | PS, 0);
	WALK_PF(e, 0x00c01234, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD);
}

static void test_32bit_ps_is_ignored_without_cr4_pse(struct env *e)
{
	uint64_t pde;

	env_map(e, 0x00c01234, 1, 0x00777000 | P, P | PS | (1ull << 21));
	pde = env_entry_gpa(e, 0x00c01234, 2);
	WALK_OK(e, 0x00c01234, SMMU_ACCESS_READ, 0x00777234);
	CHECK_BOTH(e->b, level, 1);
	CHECK_EQ(env_peek(e, pde) & A, A);
}

static void test_32bit_fetch_fault_sets_id_only_with_smep(struct env *e)
{
	e->s.efer |= X86_EFER_NXE; /* no effect on 32-bit paging's error codes */
	WALK_PF(e, 0x00400000, SMMU_ACCESS_FETCH, 0);
	e->s.cr4 |= X86_CR4_SMEP;
	WALK_PF(e, 0x00400000, SMMU_ACCESS_FETCH, X86_PFEC_I);
}

/* ---- PAE paging and the PDPTE registers (SDM 4.4) ------------------------- */

/* A CR3 write by the guest, as the production CR rules take it. */
static enum smmu_cr_result env_write_cr3(struct env *e, uint64_t cr3)
{
	struct smmu_gpa_ops ops = guestmem_ops(e->gm);
	enum smmu_tlb_flush flush;

	return smmu_x86_write_cr3(&e->s, &e->m, &ops, cr3, &flush);
}

/*
 * PDPT at 0x1000 with PDPTE 0 -> PD 0x2000 -> PT 0x3000 mapping gva 0x5000
 * to 0x9000, then PAE paging entered with CR writes: CR4.PAE, CR3 = 0x1000,
 * then CR0.PG (which loads the PDPTEs).
 */
static bool env_enter_pae(struct env *e)
{
	struct smmu_gpa_ops ops = guestmem_ops(e->gm);
	enum smmu_tlb_flush flush;

	guestmem_write64(e->gm, 0x1000, 0x2000 | P);
	guestmem_write64(e->gm, 0x2000, 0x3000 | P | RW);
	guestmem_write64(e->gm, 0x3000 + 5 * 8, 0x9000 | P | RW);
	smmu_cpu_state_reset(&e->s);
	return smmu_x86_write_cr4(&e->s, &e->m, &ops, X86_CR4_PAE, &flush) == SMMU_CR_OK &&
	       env_write_cr3(e, 0x1000) == SMMU_CR_OK &&
	       smmu_x86_write_cr0(&e->s, &e->m, &ops, e->s.cr0 | X86_CR0_PG, &flush) == SMMU_CR_OK;
}

static void test_pae_cr3_load_with_reserved_bit_in_present_pdpte_is_gp(struct env *e)
{
	static const uint64_t bad[] = {RW, US, A, D, PS, 1ull << 8, NX, 1ull << 46};
	struct smmu_gpa_ops ops = guestmem_ops(e->gm);
	uint64_t regs[4];

	REQUIRE(env_enter_pae(e));
	CHECK_EQ(e->s.pdptrs[0], 0x2000 | P);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		struct smmu_cpu_state before = e->s;

		guestmem_write64(e->gm, 0x4000 + 8, 0x2000 | P | bad[i]);
		CHECK_EQ(env_write_cr3(e, 0x4000), SMMU_CR_GP);
		CHECK(!memcmp(&before, &e->s, sizeof(before)));
		CHECK_EQ(ref_pae_load_pdptrs(&e->m, &ops, 0x4000, regs), -EINVAL);
	}
	/* PWT, PCD and the ignored bits 11:9 are not reserved. */
	guestmem_write64(e->gm, 0x4000 + 8, 0x2000 | P | 0xe18);
	CHECK_EQ(env_write_cr3(e, 0x4000), SMMU_CR_OK);
	CHECK_EQ(e->s.pdptrs[1], 0x2000 | P | 0xe18);
	CHECK_EQ(ref_pae_load_pdptrs(&e->m, &ops, 0x4000, regs), 0);
	CHECK_EQ(regs[1], 0x2000 | P | 0xe18);
}

static void test_pae_not_present_pdpte_with_junk_loads_and_faults_not_present(struct env *e)
{
	REQUIRE(env_enter_pae(e));
	guestmem_write64(e->gm, 0x1000 + 2 * 8, ~1ull);
	CHECK_EQ(env_write_cr3(e, 0x1000), SMMU_CR_OK);
	CHECK_EQ(e->s.pdptrs[2], ~1ull);
	walk_both(e, 0x80001000, SMMU_ACCESS_FETCH);
	/* Not present; I/D because PAE paging with EFER.NXE... here NXE = 0: no I/D. */
	CHECK_PF(e->b, 0);
	CHECK_BOTH(e->b, level, 3);
}

static void test_pae_pdpte_memory_write_takes_effect_at_next_load(struct env *e)
{
	REQUIRE(env_enter_pae(e));
	WALK_OK(e, 0x5123, SMMU_ACCESS_WRITE, 0x9123);
	CHECK_BOTH(e->b, gpte[2], 0x2000 | P); /* the PDPTE register: no A bit */
	CHECK_BOTH(e->b, pte_gpa[2], 0);
	CHECK_EQ(guestmem_peek(e->gm, 0x1000, 8), 0x2000 | P);
	guestmem_write64(e->gm, 0x1000, 0); /* the guest clears PDPTE 0 in memory */
	WALK_OK(e, 0x5123, SMMU_ACCESS_READ, 0x9123);
	CHECK_EQ(env_write_cr3(e, 0x1000), SMMU_CR_OK);
	WALK_PF(e, 0x5123, SMMU_ACCESS_READ, 0);
}

static void test_pae_2m_page_reserves_bits_20_to_13_and_nx_without_nxe(struct env *e)
{
	env_map(e, 0x40212345, 2, 0x00600000 | P | RW | PS, P);
	WALK_OK(e, 0x40212345, SMMU_ACCESS_READ, 0x00612345);
	CHECK_BOTH(e->b, page_size, 2ull << 20);
	env_map(e, 0x40212345, 2, 0x00600000 | (1ull << 13) | P | PS, P);
	WALK_PF(e, 0x40212345, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD);
	e->s.efer &= ~X86_EFER_NXE;
	env_map(e, 0x40212345, 2, 0x00600000 | NX | P | PS, P);
	WALK_PF(e, 0x40212345, SMMU_ACCESS_FETCH,
	        X86_PFEC_P | X86_PFEC_RSVD); /* no I/D: neither NXE nor SMEP */
}

/* ---- 4-level and 5-level paging (SDM 4.5) --------------------------------- */

/* Enter IA-32e paging with CR writes: PAE (+LA57), LME, CR3 = 0x1000, PG. */
static bool env_enter_long_mode(struct env *e, bool la57)
{
	struct smmu_gpa_ops ops = guestmem_ops(e->gm);
	enum smmu_tlb_flush flush;
	uint64_t cr4 = X86_CR4_PAE | (la57 ? X86_CR4_LA57 : 0);

	smmu_cpu_state_reset(&e->s);
	e->mode = la57 ? SMMU_PAGING_5LEVEL : SMMU_PAGING_4LEVEL;
	return smmu_x86_write_cr4(&e->s, &e->m, &ops, cr4, &flush) == SMMU_CR_OK &&
	       smmu_x86_write_efer(&e->s, &e->m, X86_EFER_LME | X86_EFER_NXE, &flush) ==
	           SMMU_CR_OK &&
	       env_write_cr3(e, 0x1000) == SMMU_CR_OK &&
	       smmu_x86_write_cr0(&e->s, &e->m, &ops, e->s.cr0 | X86_CR0_PG, &flush) == SMMU_CR_OK;
}

static void test_la57_accepts_57_bit_addresses_and_gp_on_non_canonical(struct env *e)
{
	const uint64_t high = 0x00ff800000001000ull; /* bit 55 set, 63:56 clear */
	const uint64_t neg = 0xff00000000002000ull;  /* bits 63:56 set */

	REQUIRE(env_enter_long_mode(e, true));
	CHECK_EQ(smmu_paging_mode(&e->s), SMMU_PAGING_5LEVEL);
	env_map(e, high, 1, 0x7000 | P, P | RW);
	env_map(e, neg, 1, 0x8000 | P, P | RW);
	WALK_OK(e, high | 0x12, SMMU_ACCESS_READ, 0x7012);
	CHECK_BOTH(e->b, root_level, 5);
	WALK_OK(e, neg | 0x34, SMMU_ACCESS_READ, 0x8034);
	walk_both(e, 1ull << 56, SMMU_ACCESS_READ);
	CHECK_BOTH(e->b, outcome, SMMU_WALK_GP);
	walk_both(e, 0x7f00000000000000ull, SMMU_ACCESS_FETCH);
	CHECK_BOTH(e->b, outcome, SMMU_WALK_GP);
	CHECK(!smmu_x86_gva_canonical(&e->s, 1ull << 56));
	CHECK(smmu_x86_gva_canonical(&e->s, high));
}

static void test_4level_gp_on_address_canonical_only_under_la57(struct env *e)
{
	REQUIRE(env_enter_long_mode(e, false));
	walk_both(e, 0x0000800000000000ull, SMMU_ACCESS_READ);
	CHECK_BOTH(e->b, outcome, SMMU_WALK_GP);
	WALK_PF(e, 0xffff800000000000ull, SMMU_ACCESS_READ, 0); /* canonical, nothing mapped */
	CHECK_BOTH(e->b, level, 4);
}

static void test_gbpages_off_makes_pdpte_ps_reserved(struct env *e)
{
	env_map(e, 0x40123456, 3, 0x40000000 | P | RW | PS, P | RW);
	WALK_OK(e, 0x40123456, SMMU_ACCESS_READ, 0x40123456);
	CHECK_BOTH(e->b, page_size, 1ull << 30);
	CHECK_BOTH(e->b, level, 3);
	e->m.gbpages = false;
	WALK_PF(e, 0x40123456, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD);
	e->m.gbpages = true;
	env_map(e, 0x40123456, 3, 0x40000000 | (1ull << 29) | P | PS, P | RW);
	WALK_PF(e, 0x40123456, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD);
}

static void test_bit8_of_nonleaf_entry_is_ignored_but_pml4e_ps_is_reserved(struct env *e)
{
	env_map(e, 0x3000, 1, 0x5000 | P, P | RW | (1ull << 8));
	WALK_OK(e, 0x3000, SMMU_ACCESS_READ, 0x5000);
	guestmem_write64(e->gm, 0x1000, guestmem_peek(e->gm, 0x1000, 8) | PS);
	WALK_PF(e, 0x3000, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_BOTH(e->b, level, 4);
}

static void test_reserved_bit_wins_over_permission_fault_below(struct env *e)
{
	/* PML4E is supervisor-only (a CPL-3 permission problem), the PDE has a reserved bit. */
	e->s.cpl = 3;
	env_map(e, 0x200000, 2, 0x400000 | (1ull << 45) | (1ull << 50) | P | US | PS, P | US);
	guestmem_write64(e->gm, 0x1000, guestmem_peek(e->gm, 0x1000, 8) & ~US);
	WALK_PF(e, 0x200000, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_U);
	CHECK_EQ(guestmem_peek(e->gm, 0x1000, 8) & A, 0);
}

/* ---- access rights: SMAP, SMEP, NX, protection keys (SDM 4.6) --------------- */

static void test_smap_blocks_supervisor_read_of_user_page_unless_ac(struct env *e)
{
	e->s.cr4 |= X86_CR4_SMAP;
	env_map(e, 0x7000, 1, 0x9000 | P | RW | US, P | RW | US);
	WALK_PF(e, 0x7010, SMMU_ACCESS_READ, X86_PFEC_P);
	e->s.ac = true;
	WALK_OK(e, 0x7010, SMMU_ACCESS_READ, 0x9010);
}

static void test_smap_ac_does_not_override_write_protect(struct env *e)
{
	e->s.cr4 |= X86_CR4_SMAP;
	e->s.ac = true;
	env_map(e, 0x7000, 1, 0x9000 | P | US, P | RW | US);
	WALK_PF(e, 0x7010, SMMU_ACCESS_WRITE, X86_PFEC_P | X86_PFEC_W);
	e->s.cr0 &= ~X86_CR0_WP;
	WALK_OK(e, 0x7010, SMMU_ACCESS_WRITE, 0x9010);
	CHECK_BOTH(e->b, gpte[0], 0x9000 | P | US | A | D);
}

static void test_smap_spares_fetches_and_smep_blocks_them(struct env *e)
{
	e->s.cr4 |= X86_CR4_SMAP;
	env_map(e, 0x7000, 1, 0x9000 | P | US, P | RW | US);
	WALK_OK(e, 0x7010, SMMU_ACCESS_FETCH, 0x9010);
	e->s.cr4 |= X86_CR4_SMEP;
	WALK_PF(e, 0x7010, SMMU_ACCESS_FETCH, X86_PFEC_P | X86_PFEC_I);
}

static void test_pkey_write_disable_spares_supervisor_only_when_wp_clear(struct env *e)
{
	e->s.cr4 |= X86_CR4_PKE;
	e->s.cr0 &= ~X86_CR0_WP;
	e->s.pkru = 2u << (2 * 5); /* WD for key 5 */
	env_map(e, 0x7000, 1, 0x9000 | (5ull << X86_PTE_PKEY_SHIFT) | P | RW | US, P | RW | US);
	WALK_OK(e, 0x7008, SMMU_ACCESS_WRITE, 0x9008);
	CHECK_BOTH(e->b, pkey, 5);
	e->s.cr0 |= X86_CR0_WP;
	WALK_PF(e, 0x7008, SMMU_ACCESS_WRITE, X86_PFEC_P | X86_PFEC_W | X86_PFEC_PK);
	e->s.cr0 &= ~X86_CR0_WP;
	e->s.cpl = 3;
	WALK_PF(e, 0x7008, SMMU_ACCESS_WRITE, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U | X86_PFEC_PK);
	WALK_OK(e, 0x7008, SMMU_ACCESS_READ, 0x9008);
}

static void test_pkey_access_disable_blocks_data_not_fetch_nor_supervisor_pages(struct env *e)
{
	e->s.cr4 |= X86_CR4_PKE;
	e->s.pkru = 1u << (2 * 7); /* AD for key 7 */
	env_map(e, 0x7000, 1, 0x9000 | (7ull << X86_PTE_PKEY_SHIFT) | P | US, P | RW | US);
	env_map(e, 0x8000, 1, 0xa000 | (7ull << X86_PTE_PKEY_SHIFT) | P, P | RW | US);
	WALK_PF(e, 0x7000, SMMU_ACCESS_READ, X86_PFEC_P | X86_PFEC_PK);
	WALK_OK(e, 0x7000, SMMU_ACCESS_FETCH, 0x9000);
	WALK_OK(e, 0x8000, SMMU_ACCESS_READ, 0xa000);
	/* A write to the read-only user page: both the R/W and the key forbid it. */
	e->s.cpl = 3;
	WALK_PF(e, 0x7000, SMMU_ACCESS_WRITE, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U | X86_PFEC_PK);
}

static void test_nx_in_pde_forbids_fetch_from_4k_page(struct env *e)
{
	uint64_t pde;

	env_map(e, 0x7000, 1, 0x9000 | P | RW, P | RW);
	pde = env_entry_gpa(e, 0x7000, 2);
	guestmem_write64(e->gm, pde, guestmem_peek(e->gm, pde, 8) | NX);
	WALK_PF(e, 0x7000, SMMU_ACCESS_FETCH, X86_PFEC_P | X86_PFEC_I);
	WALK_OK(e, 0x7000, SMMU_ACCESS_READ, 0x9000);
	CHECK_BOTH(e->b, access, SMMU_ACC_W);
	/* Without EFER.NXE the same bit is reserved, and I/D needs SMEP. */
	e->s.efer &= ~X86_EFER_NXE;
	WALK_PF(e, 0x7000, SMMU_ACCESS_FETCH, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_BOTH(e->b, level, 2);
	e->s.cr4 |= X86_CR4_SMEP;
	WALK_PF(e, 0x7000, SMMU_ACCESS_FETCH, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_I);
}

/* ---- Accessed/Dirty (SDM 4.8, trace-format.md) --------------------------- */

static void test_faulting_walk_sets_no_accessed_bit(struct env *e)
{
	struct guestmem *before;

	env_map(e, 0x7000, 1, 0x9000 | P | US, P | RW | US);
	before = guestmem_clone(e->gm);
	e->s.cpl = 3;
	WALK_PF(e, 0x7000, SMMU_ACCESS_WRITE, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	CHECK(guestmem_equal(e->gm, before, NULL));
	guestmem_destroy(before);
}

static void test_accessed_bit_not_written_to_readonly_page_table(struct env *e)
{
	uint64_t pte;

	pte = env_map(e, 0x7000, 1, 0x9000 | P | RW, P | RW);
	guestmem_set_readonly(e->gm, pte & ~0xfffull, 0x1000);
	WALK_OK(e, 0x7000, SMMU_ACCESS_WRITE, 0x9000);
	CHECK_EQ(env_peek(e, pte), 0x9000 | P | RW);
	CHECK_BOTH(e->b, gpte[0], 0x9000 | P | RW);
	CHECK_EQ(guestmem_peek(e->gm, 0x1000, 8) & A, A);
}

static void test_unbacked_page_table_faults_not_present(struct env *e)
{
	e->s.cpl = 3;
	env_map(e, 0x7000, 2, (MEM_SIZE + 0x200000) | P | RW | US, P | RW | US);
	WALK_PF(e, 0x7000, SMMU_ACCESS_READ, X86_PFEC_U);
	CHECK_BOTH(e->b, level, 1);
}

/* Write-walk with `races` injected lost cmpxchgs in both memories, into e->b. */
static void walk_both_raced(struct env *e, uint64_t gva, unsigned races,
                            struct guestmem_stats *prod_stats)
{
	struct both *b = &e->b;
	struct guestmem *ref_mem = guestmem_clone(e->gm);
	struct smmu_gpa_ops prod_ops = guestmem_ops(e->gm), ref_ops = guestmem_ops(ref_mem);

	guestmem_inject_races(e->gm, races);
	guestmem_inject_races(ref_mem, races);
	ref_walk(&e->s, &e->m, &ref_ops, gva, SMMU_ACCESS_WRITE, &b->ref);
	smmu_x86_walk(&e->s, &e->m, &prod_ops, gva, SMMU_ACCESS_WRITE, &b->prod);
	b->mem_equal = guestmem_equal(e->gm, ref_mem, NULL);
	*prod_stats = guestmem_stats(e->gm);
	CHECK_EQ(guestmem_stats(ref_mem).races, races);
	guestmem_destroy(ref_mem);
}

static void test_ad_race_restarts_walk_and_sets_bits(struct env *e)
{
	struct guestmem_stats st;
	uint64_t pte;

	pte = env_map(e, 0x7000, 1, 0x9000 | P | RW, P | RW);
	walk_both_raced(e, 0x7000, 3, &st);
	CHECK_OK(e->b, 0x9000);
	CHECK_EQ(st.races, 3);
	CHECK_EQ(env_peek(e, pte), 0x9000 | P | RW | A | D);
	CHECK_BOTH(e->b, gpte[0], 0x9000 | P | RW | A | D);
	CHECK_EQ(guestmem_peek(e->gm, 0x1000, 8) & (A | D), A);
}

static void test_ad_race_with_guest_unmapping_leaf_restarts_into_not_present(struct env *e)
{
	struct guestmem *ref_mem;
	struct smmu_gpa_ops ops, ref_ops;
	struct smmu_walk w, rw;
	uint64_t pte;

	pte = env_map(e, 0x7000, 1, 0x9000 | P | RW, P | RW);
	ref_mem = guestmem_clone(e->gm);
	ops = guestmem_ops(e->gm);
	ref_ops = guestmem_ops(ref_mem);
	/* The guest clears the PTE between the walker's read and its A/D cmpxchg. */
	guestmem_race_store(e->gm, pte, 8, 0);
	guestmem_race_store(ref_mem, pte, 8, 0);
	CHECK_EQ(smmu_x86_walk(&e->s, &e->m, &ops, 0x7000, SMMU_ACCESS_WRITE, &w), SMMU_WALK_PF);
	CHECK_EQ(w.error_code, X86_PFEC_W);
	CHECK_EQ(ref_walk(&e->s, &e->m, &ref_ops, 0x7000, SMMU_ACCESS_WRITE, &rw), SMMU_WALK_PF);
	CHECK_EQ(rw.error_code, X86_PFEC_W);
	CHECK_EQ(env_peek(e, pte), 0);
	CHECK_EQ(guestmem_peek(ref_mem, pte, 8), 0);
	guestmem_destroy(ref_mem);
}

static void test_self_referencing_entry_used_at_every_level_gets_accessed_and_dirty(struct env *e)
{
	/*
	 * PML4E 0 points at the PML4 itself, so gva 0x123 uses that one entry
	 * at all four levels and as its leaf.  Setting A through one level
	 * changes the entry seen by the others (their cmpxchg mismatches and
	 * the walk restarts, SDM 4.8 / KVM); the end state is A|D, 0x1123.
	 */
	guestmem_write64(e->gm, 0x1000, 0x1000 | P | RW);
	WALK_OK(e, 0x123, SMMU_ACCESS_WRITE, 0x1123);
	CHECK_BOTH(e->b, level, 1);
	CHECK_BOTH(e->b, gpte[0], 0x1000 | P | RW | A | D);
	CHECK_EQ(guestmem_peek(e->gm, 0x1000, 8), 0x1000 | P | RW | A | D);
}

int main(void)
{
	RUN_IN(SMMU_PAGING_OFF, test_paging_off_maps_gva_to_same_gpa_with_all_rights);
	RUN_IN(SMMU_PAGING_32BIT, test_32bit_4k_walk_sets_accessed_and_dirty);
	RUN_IN(SMMU_PAGING_32BIT, test_pse36_maps_4m_page_above_4g);
	RUN_IN(SMMU_PAGING_32BIT, test_pse36_uses_maxphyaddr_36_bits);
	RUN_IN(SMMU_PAGING_32BIT, test_pse36_bit_21_is_reserved_even_at_40_bits);
	RUN_IN(SMMU_PAGING_32BIT, test_no_pse36_reserves_pde_bits_21_to_13);
	RUN_IN(SMMU_PAGING_32BIT, test_32bit_ps_is_ignored_without_cr4_pse);
	RUN_IN(SMMU_PAGING_32BIT, test_32bit_fetch_fault_sets_id_only_with_smep);
	RUN_IN(SMMU_PAGING_PAE, test_pae_cr3_load_with_reserved_bit_in_present_pdpte_is_gp);
	RUN_IN(SMMU_PAGING_PAE, test_pae_not_present_pdpte_with_junk_loads_and_faults_not_present);
	RUN_IN(SMMU_PAGING_PAE, test_pae_pdpte_memory_write_takes_effect_at_next_load);
	RUN_IN(SMMU_PAGING_PAE, test_pae_2m_page_reserves_bits_20_to_13_and_nx_without_nxe);
	RUN_IN(SMMU_PAGING_5LEVEL, test_la57_accepts_57_bit_addresses_and_gp_on_non_canonical);
	RUN_IN(SMMU_PAGING_4LEVEL, test_4level_gp_on_address_canonical_only_under_la57);
	RUN_IN(SMMU_PAGING_4LEVEL, test_gbpages_off_makes_pdpte_ps_reserved);
	RUN_IN(SMMU_PAGING_4LEVEL, test_bit8_of_nonleaf_entry_is_ignored_but_pml4e_ps_is_reserved);
	RUN_IN(SMMU_PAGING_4LEVEL, test_reserved_bit_wins_over_permission_fault_below);
	RUN_IN(SMMU_PAGING_4LEVEL, test_smap_blocks_supervisor_read_of_user_page_unless_ac);
	RUN_IN(SMMU_PAGING_4LEVEL, test_smap_ac_does_not_override_write_protect);
	RUN_IN(SMMU_PAGING_4LEVEL, test_smap_spares_fetches_and_smep_blocks_them);
	RUN_IN(SMMU_PAGING_4LEVEL, test_pkey_write_disable_spares_supervisor_only_when_wp_clear);
	RUN_IN(SMMU_PAGING_4LEVEL,
	       test_pkey_access_disable_blocks_data_not_fetch_nor_supervisor_pages);
	RUN_IN(SMMU_PAGING_4LEVEL, test_nx_in_pde_forbids_fetch_from_4k_page);
	RUN_IN(SMMU_PAGING_5LEVEL, test_faulting_walk_sets_no_accessed_bit);
	RUN_IN(SMMU_PAGING_4LEVEL, test_accessed_bit_not_written_to_readonly_page_table);
	RUN_IN(SMMU_PAGING_4LEVEL, test_unbacked_page_table_faults_not_present);
	RUN_IN(SMMU_PAGING_4LEVEL, test_ad_race_restarts_walk_and_sets_bits);
	RUN_IN(SMMU_PAGING_4LEVEL,
	       test_ad_race_with_guest_unmapping_leaf_restarts_into_not_present);
	RUN_IN(SMMU_PAGING_4LEVEL,
	       test_self_referencing_entry_used_at_every_level_gets_accessed_and_dirty);
	return check_finish();
}
