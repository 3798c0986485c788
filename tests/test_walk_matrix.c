/*
 * test_walk_matrix.c - differential matrix: the production walker
 * smmu_x86_walk() against the reference ref_walk() on two identical guest
 * memories, over hundreds of thousands of generated cases.
 *
 * Structure, per paging mode (32-bit, PAE, 4-level, 5-level; paging off is
 * a small sample):
 *  - level sweep: for each level L of the mode, every one of the 512
 *    patterns of L's entry bits {P, R/W, U/S, A, D, PS, XD, an odd bit, a
 *    protection key} (32-bit entries use G and an ignored bit instead of XD
 *    and the key) is crossed with every "core" control state {read, write,
 *    fetch} x CPL {0, 3} x CR0.WP x EFER.NXE, REPEATS times; the rest of
 *    the case is drawn from a fixed-seed PRNG: the CPU model (features off,
 *    MAXPHYADDR 32..52), CR4.SMEP/SMAP/PKE/PSE/PGE, RFLAGS.AC, PKRU, the
 *    gva, the entries of the other levels (present non-leaf entries above L,
 *    mostly-benign random ones below), read-only page tables and injected
 *    A/D races;
 *  - random sweep: every level's pattern and all control drawn at random.
 * The "odd bit" is one bit drawn from a list of bits that are reserved in
 * some entry type, mode or model and not in others (8, 12, 13, 20, 21, 29,
 * MAXPHYADDR-1, MAXPHYADDR, 51, 52, 62...), so the two walkers' reserved-bit
 * tables are compared without the generator knowing them.
 * Compared: outcome (and smmu_x86_gva_canonical() against it); on #PF the
 * error code and the levels walked; on success gpa, level,
 * page_size, access, pkey, global, root_level and gpte[]/pte_gpa[] of every
 * level used; and always the whole guest memory afterwards (A/D bits).
 * A mismatch prints the complete case so it can be rebuilt by hand.
 * A last test loads random PAE PDPTE quadruples through CR0/CR3/CR4 writes
 * and compares #GP and the loaded registers with ref_pae_load_pdptrs().
 */
#include <shadowmmu/x86.h>

#include "common.h"
#include "ref/ref_walker.h"
#include "support/check.h"
#include "support/guestmem.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define MATRIX_SEED      0x5eed2024cafef00dull
#define REPEATS          6      /* level sweep: random contexts per (pattern, core control) */
#define RANDOM_CASES     150000 /* random sweep cases per paging mode */
#define OFF_CASES        2000   /* paging-off cases */
#define MAX_REPORTS      12     /* mismatches printed in full */
#define MEM_SIZE         (12 * 4096ull)
#define TABLE_PAGE(l)    (0x1000ull * (l))       /* writable table of level l */
#define RO_TABLE_PAGE(l) (0x1000ull * (5 + (l))) /* read-only table of level l */
#define UNBACKED_TABLE   0x40000000ull           /* no memory: not present below */

/* Pattern bits: which entry bits a level's pattern turns on. */
enum {
	PAT_P = 1 << 0,
	PAT_RW = 1 << 1,
	PAT_US = 1 << 2,
	PAT_A = 1 << 3,
	PAT_D = 1 << 4,
	PAT_PS = 1 << 5,
	PAT_NX = 1 << 6,   /* 32-bit entries: G (bit 8) */
	PAT_ODD = 1 << 7,  /* one bit from odd_bits_64/odd_bits_32 */
	PAT_PKEY = 1 << 8, /* a non-zero key in bits 62:59; 32-bit: ignored bit 10 */
	PAT_COUNT = 1 << 9,
};

/* Kinds of reference outcome, counted to show what the matrix covers. */
enum outcome_kind {
	OK_4K,
	OK_LARGE,
	PF_NOT_PRESENT,
	PF_RSVD,
	PF_RIGHTS,
	PF_PKEY,
	GP,
	OUTCOME_KINDS,
};

static const char *const outcome_names[OUTCOME_KINDS] = {
    "ok-4k", "ok-large", "pf-np", "pf-rsvd", "pf-rights", "pf-pk", "gp",
};

static enum outcome_kind outcome_kind(const struct smmu_walk *r)
{
	if (r->outcome == SMMU_WALK_GP)
		return GP;
	if (r->outcome == SMMU_WALK_OK)
		return r->level > 1 ? OK_LARGE : OK_4K;
	if (!(r->error_code & X86_PFEC_P))
		return PF_NOT_PRESENT;
	if (r->error_code & X86_PFEC_RSVD)
		return PF_RSVD;
	return (r->error_code & X86_PFEC_PK) ? PF_PKEY : PF_RIGHTS;
}

/* One generated case: everything both walkers see. */
struct mcase {
	enum smmu_paging_mode mode;
	struct smmu_cpu_model m;
	struct smmu_cpu_state s;
	uint64_t gva;
	enum smmu_access_type acc;
	unsigned root;         /* root level of the mode */
	uint64_t entry[5];     /* entry of level l at [l - 1] (PAE level 3: the register) */
	uint64_t entry_gpa[5]; /* where it lives (0 for the PAE register) */
	bool ro[5];            /* the table of level l is read-only memory */
	unsigned races;        /* injected lost A/D cmpxchgs */
};

struct matrix {
	struct guestmem *prod_mem, *ref_mem, *pristine;
	uint64_t rng;
	unsigned long cases, mismatches;
	unsigned long outcomes[OUTCOME_KINDS]; /* reference outcomes, by outcome_kind() */
};

/* ---- a fixed-seed PRNG (splitmix64) ------------------------------------- */

static uint64_t rnd(struct matrix *mx)
{
	uint64_t z = (mx->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rnd_below(struct matrix *mx, unsigned n)
{
	return (unsigned)(rnd(mx) % n);
}

static bool rnd_chance(struct matrix *mx, unsigned percent)
{
	return rnd_below(mx, 100) < percent;
}

/* ---- CPU models and control state --------------------------------------- */

/* The models a case may run on: defaults, features off, MAXPHYADDR extremes. */
static void pick_model(struct matrix *mx, enum smmu_paging_mode mode, struct smmu_cpu_model *m)
{
	static const unsigned maxphy[] = {46, 36, 52, 40, 39, 32};

	smmu_cpu_model_default(m);
	switch (rnd_below(mx, 4)) {
	case 0: /* default */
		break;
	case 1: /* everything optional off */
		m->nx = m->gbpages = m->pse36 = m->pku = m->smep = m->smap = m->pcid = false;
		m->maxphyaddr = maxphy[rnd_below(mx, 3)];
		break;
	default: /* each feature off with 25 % chance */
		m->nx = rnd_chance(mx, 75);
		m->gbpages = rnd_chance(mx, 75);
		m->pse36 = rnd_chance(mx, 75);
		m->pku = rnd_chance(mx, 75);
		m->smep = rnd_chance(mx, 75);
		m->smap = rnd_chance(mx, 75);
		m->maxphyaddr = maxphy[rnd_below(mx, 6)];
		break;
	}
	if (mode == SMMU_PAGING_5LEVEL)
		m->la57 = true;
	/* IA-32e paging needs more than 32 physical address bits to be useful. */
	if ((mode == SMMU_PAGING_4LEVEL || mode == SMMU_PAGING_5LEVEL) && m->maxphyaddr < 36)
		m->maxphyaddr = 36;
}

/* Registers for `mode`; only control bits the model allows (else the CR write is #GP). */
static void pick_control(struct matrix *mx, struct mcase *c, unsigned core)
{
	struct smmu_cpu_state *s = &c->s;
	bool ia32e = c->mode == SMMU_PAGING_4LEVEL || c->mode == SMMU_PAGING_5LEVEL;

	smmu_cpu_state_reset(s);
	c->acc = (enum smmu_access_type)(core % 3);
	s->cpl = (core / 3) % 2 ? 3 : 0;
	if ((core / 6) % 2)
		s->cr0 |= X86_CR0_WP;
	if ((core / 12) % 2 && c->m.nx)
		s->efer |= X86_EFER_NXE;
	if (c->mode == SMMU_PAGING_OFF)
		return;
	s->cr0 |= X86_CR0_PG;
	s->cr4 |= rnd_chance(mx, 50) ? X86_CR4_PGE : 0;
	s->cr4 |= rnd_chance(mx, 50) && c->m.smep ? X86_CR4_SMEP : 0;
	s->cr4 |= rnd_chance(mx, 50) && c->m.smap ? X86_CR4_SMAP : 0;
	s->ac = rnd_chance(mx, 50);
	if (c->mode == SMMU_PAGING_32BIT) {
		s->cr4 |= rnd_chance(mx, 75) ? X86_CR4_PSE : 0;
		return;
	}
	s->cr4 |= X86_CR4_PAE | (rnd_chance(mx, 50) ? X86_CR4_PSE : 0);
	if (!ia32e)
		return;
	s->efer |= X86_EFER_LME | X86_EFER_LMA;
	if (c->mode == SMMU_PAGING_5LEVEL)
		s->cr4 |= X86_CR4_LA57;
	if (c->m.pku && rnd_chance(mx, 60))
		s->cr4 |= X86_CR4_PKE;
}

/* PKRU: nothing, everything, or the AD/WD bits of the key the leaf may carry. */
static uint32_t pick_pkru(struct matrix *mx, unsigned key)
{
	switch (rnd_below(mx, 7)) {
	case 0:
		return 0;
	case 1:
		return 1u << (2 * key); /* AD */
	case 2:
		return 2u << (2 * key); /* WD */
	case 3:
		return 3u << (2 * key);
	case 4:
		return 0x55555555u;
	case 5:
		return 0xaaaaaaaau;
	default:
		return (uint32_t)rnd(mx);
	}
}

/* ---- entries -------------------------------------------------------------- */

static uint64_t pick_odd_bit(struct matrix *mx, const struct mcase *c)
{
	static const unsigned odd32[] = {8, 9, 11, 12, 13, 16, 17, 20, 21, 22, 31};
	static const unsigned odd64[] = {8, 9, 11, 12, 13, 16, 20, 21, 29, 30, 51, 52, 58, 62};
	unsigned r = rnd_below(mx, 20);

	if (c->mode == SMMU_PAGING_32BIT)
		return 1ull << odd32[r % 11];
	if (r == 14 || r == 15)
		return 1ull << (c->m.maxphyaddr - 1); /* the top address bit: never reserved */
	if (r >= 16 && c->m.maxphyaddr < 52)
		return 1ull << c->m.maxphyaddr; /* the first reserved address bit */
	return 1ull << odd64[r % 14];
}

/* Bits 0..n-1 (n <= 52). */
static uint64_t bits_below(unsigned n)
{
	return (1ull << n) - 1;
}

/* The frame a large (PS = 1) entry at `level` maps: aligned, within 32..M bits. */
static uint64_t pick_large_frame(struct matrix *mx, const struct mcase *c, unsigned level)
{
	unsigned m = c->m.maxphyaddr, shift;
	uint64_t frame;

	if (c->mode == SMMU_PAGING_32BIT) {
		/* bits 31:22, and PSE-36 bits 20:13 (some of which may be reserved). */
		frame = rnd(mx) & 0xffc00000ull;
		if (rnd_chance(mx, 50))
			frame |= (rnd(mx) & 0xff) << 13;
		return frame;
	}
	shift = level == 3 ? 30 : 21;
	frame = rnd(mx) & ((1ull << (m < 40 ? m : 40)) - 1);
	return frame & ~((1ull << shift) - 1);
}

/*
 * Build level l's entry from a pattern.  Non-leaf entries point at the
 * table of level l - 1 (rarely at unbacked memory); PS entries at level 2/3
 * map a large frame half of the time and point at the next table otherwise
 * (which matters where PS is ignored, e.g. 32-bit paging with CR4.PSE = 0).
 */
static uint64_t make_entry(struct matrix *mx, struct mcase *c, unsigned l, unsigned pat)
{
	bool wide = c->mode != SMMU_PAGING_32BIT;
	uint64_t e = 0,
	         next = l > 1 ? (c->ro[l - 2] ? RO_TABLE_PAGE(l - 1) : TABLE_PAGE(l - 1)) : 0;

	e |= (pat & PAT_P) ? X86_PTE_P : 0;
	e |= (pat & PAT_RW) ? X86_PTE_RW : 0;
	e |= (pat & PAT_US) ? X86_PTE_US : 0;
	e |= (pat & PAT_A) ? X86_PTE_A : 0;
	e |= (pat & PAT_D) ? X86_PTE_D : 0;
	e |= (pat & PAT_PS) ? X86_PTE_PS : 0;
	if (pat & PAT_NX)
		e |= wide ? X86_PTE_NX : X86_PTE_G;
	if (pat & PAT_PKEY)
		e |= wide ? (uint64_t)(1 + rnd_below(mx, 15)) << X86_PTE_PKEY_SHIFT : 1ull << 10;
	if (l == 1)
		next = rnd(mx) & (wide ? bits_below(c->m.maxphyaddr) : 0xffffffffull) & ~0xfffull;
	else if ((pat & PAT_PS) && rnd_chance(mx, 50))
		next = pick_large_frame(mx, c, l) | (rnd_chance(mx, 30) ? X86_PTE_LPAT : 0);
	else if (rnd_chance(mx, 2))
		next = UNBACKED_TABLE;
	e |= next | (rnd_chance(mx, 30) ? X86_PTE_G | X86_PTE_PWT : 0);
	if (pat & PAT_ODD)
		e |= pick_odd_bit(mx, c);
	if (!(pat & PAT_P) && rnd_chance(mx, 50))
		e |= rnd(mx) &
		     ~(wide ? 1ull : 0xffffffff00000001ull); /* junk in a non-present entry */
	return wide ? e : (uint32_t)e;
}

/*
 * A random pattern for a level that is not being swept, biased toward
 * entries that let the walk reach a verdict on rights: XD, odd bits and
 * (outside IA-32e paging, where they are reserved) keys are rare.
 */
static unsigned pattern_biased(struct matrix *mx, const struct mcase *c, bool above)
{
	bool ia32e = c->mode == SMMU_PAGING_4LEVEL || c->mode == SMMU_PAGING_5LEVEL;
	unsigned pat = 0;

	pat |= (above || rnd_chance(mx, 90)) ? PAT_P : 0;
	pat |= rnd_chance(mx, 80) ? PAT_RW : 0;
	pat |= rnd_chance(mx, 75) ? PAT_US : 0;
	pat |= rnd_chance(mx, 50) ? PAT_A : 0;
	pat |= rnd_chance(mx, 40) ? PAT_D : 0;
	pat |= rnd_chance(mx, 15) ? PAT_NX : 0;
	if (above)
		return pat; /* present, not PS: the walk goes on */
	pat |= rnd_chance(mx, 35) ? PAT_PS : 0;
	pat |= rnd_chance(mx, 8) ? PAT_ODD : 0;
	pat |= rnd_chance(mx, ia32e ? 60 : 8) ? PAT_PKEY : 0;
	return pat;
}

/* PAE level 3 is a PDPTE register: P, PWT/PCD and ignored bits only (SDM 4.4.1). */
static uint64_t make_pae_pdpte(struct matrix *mx, struct mcase *c, bool present)
{
	uint64_t next = c->ro[1] ? RO_TABLE_PAGE(2) : TABLE_PAGE(2);

	if (!present)
		return rnd(mx) & ~1ull;
	return next | X86_PTE_P | (rnd(mx) & 0xe18);
}

/* ---- gva ------------------------------------------------------------------ */

static uint64_t pick_gva(struct matrix *mx, const struct mcase *c)
{
	uint64_t gva = rnd(mx);
	unsigned top;

	if (c->mode == SMMU_PAGING_OFF || c->mode == SMMU_PAGING_32BIT ||
	    c->mode == SMMU_PAGING_PAE)
		/* x86.h: outside IA-32e only bits 31:0 count; junk above them, one case in 16. */
		return rnd_below(mx, 16) ? gva & 0xffffffffull : gva;
	top = c->mode == SMMU_PAGING_5LEVEL ? 56 : 47;
	/* Sign-extend from bit `top` (canonical), except one case in 64. */
	gva = (gva & ((2ull << top) - 1));
	if (gva & (1ull << top))
		gva |= ~((2ull << top) - 1);
	if (rnd_below(mx, 64) == 0)
		gva ^= 1ull << (top + 1 + rnd_below(mx, 63 - top));
	return gva;
}

/* ---- running a case ------------------------------------------------------- */

static unsigned root_level(enum smmu_paging_mode mode)
{
	static const unsigned roots[] = {0, 2, 3, 4, 5};

	return roots[mode];
}

static uint64_t entry_index(const struct mcase *c, unsigned l)
{
	if (c->mode == SMMU_PAGING_32BIT)
		return (c->gva >> (l == 2 ? 22 : 12)) & 0x3ff;
	return (c->gva >> (12 + 9 * (l - 1))) & 0x1ff;
}

/* Place the entries of c in both memories (and the PAE register / CR3). */
static void install_case(struct matrix *mx, struct mcase *c)
{
	unsigned size = c->mode == SMMU_PAGING_32BIT ? 4 : 8;
	uint64_t root_table;

	if (c->mode == SMMU_PAGING_OFF)
		return;
	root_table = c->ro[c->root - 1] ? RO_TABLE_PAGE(c->root) : TABLE_PAGE(c->root);
	/* CR3: the root table; low bits are PWT/PCD or a PCID, never an address. */
	c->s.cr3 = root_table | (c->mode == SMMU_PAGING_32BIT ? 0x18 : rnd(mx) & 0xfff);
	if (c->mode == SMMU_PAGING_PAE) {
		c->s.cr3 = root_table | (rnd(mx) & 0x18);
		for (unsigned i = 0; i < 4; i++)
			c->s.pdptrs[i] = i == ((c->gva >> 30) & 3) ? c->entry[2] : rnd(mx) & ~1ull;
	}
	for (unsigned l = 1; l <= c->root; l++) {
		uint64_t table = c->ro[l - 1] ? RO_TABLE_PAGE(l) : TABLE_PAGE(l);

		c->entry_gpa[l - 1] = 0;
		if (c->mode == SMMU_PAGING_PAE && l == 3)
			continue;
		c->entry_gpa[l - 1] = table + entry_index(c, l) * size;
		if (size == 4) {
			guestmem_write32(mx->prod_mem, c->entry_gpa[l - 1],
			                 (uint32_t)c->entry[l - 1]);
			guestmem_write32(mx->ref_mem, c->entry_gpa[l - 1],
			                 (uint32_t)c->entry[l - 1]);
		} else {
			guestmem_write64(mx->prod_mem, c->entry_gpa[l - 1], c->entry[l - 1]);
			guestmem_write64(mx->ref_mem, c->entry_gpa[l - 1], c->entry[l - 1]);
		}
	}
	guestmem_inject_races(mx->prod_mem, c->races);
	guestmem_inject_races(mx->ref_mem, c->races);
}

/* Undo install_case (and whatever the walkers wrote) in both memories. */
static void uninstall_case(struct matrix *mx, const struct mcase *c, bool full)
{
	guestmem_inject_races(mx->prod_mem, 0);
	guestmem_inject_races(mx->ref_mem, 0);
	if (full) {
		guestmem_copy(mx->prod_mem, mx->pristine);
		guestmem_copy(mx->ref_mem, mx->pristine);
		return;
	}
	for (unsigned l = 1; l <= c->root; l++) {
		if (!c->entry_gpa[l - 1])
			continue;
		guestmem_write64(mx->prod_mem, c->entry_gpa[l - 1] & ~7ull, 0);
		guestmem_write64(mx->ref_mem, c->entry_gpa[l - 1] & ~7ull, 0);
	}
}

static void describe_case(const struct mcase *c, unsigned long n)
{
	const struct smmu_cpu_model *m = &c->m;
	const struct smmu_cpu_state *s = &c->s;

	fprintf(stderr,
	        "  case #%lu mode=%s %s gva=0x%016" PRIx64 " cpl=%u ac=%d races=%u\n"
	        "  model: maxphyaddr=%u nx=%d gbpages=%d pse36=%d pku=%d smep=%d smap=%d la57=%d\n"
	        "  cr0=0x%" PRIx64 " cr3=0x%" PRIx64 " cr4=0x%" PRIx64 " efer=0x%" PRIx64
	        " pkru=0x%08x\n",
	        n, ref_paging_mode_name(c->mode), ref_access_name(c->acc), c->gva, s->cpl, s->ac,
	        c->races, m->maxphyaddr, m->nx, m->gbpages, m->pse36, m->pku, m->smep, m->smap,
	        m->la57, s->cr0, s->cr3, s->cr4, s->efer, s->pkru);
	if (c->mode == SMMU_PAGING_PAE)
		fprintf(stderr,
		        "  pdptrs: 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
		        s->pdptrs[0], s->pdptrs[1], s->pdptrs[2], s->pdptrs[3]);
	for (unsigned l = c->root; l >= 1; l--)
		fprintf(stderr, "  L%u entry=0x%016" PRIx64 " at gpa 0x%" PRIx64 "%s\n", l,
		        c->entry[l - 1], c->entry_gpa[l - 1], c->ro[l - 1] ? " (read-only)" : "");
}

/* gpte[]/pte_gpa[] of levels root_level..level, but for an entry no memory backs. */
static bool levels_agree(const struct smmu_walk *p, const struct smmu_walk *r,
                         const struct guestmem *mem)
{
	uint64_t val;

	if (p->level != r->level || p->root_level != r->root_level)
		return false;
	for (unsigned l = r->level; l >= 1 && l <= r->root_level; l++) {
		bool unbacked =
		    r->pte_gpa[l - 1] &&
		    guestmem_read(mem, r->pte_gpa[l - 1], r->root_level == 2 ? 4 : 8, &val);

		if (unbacked) /* nothing was read there: x86.h leaves it open */
			continue;
		if (p->gpte[l - 1] != r->gpte[l - 1] || p->pte_gpa[l - 1] != r->pte_gpa[l - 1])
			return false;
	}
	return true;
}

static bool gptes_zero(const struct smmu_walk *w)
{
	for (unsigned l = 0; l < SMMU_MAX_LEVELS; l++)
		if (w->gpte[l] || w->pte_gpa[l])
			return false;
	return true;
}

/* Zero what x86.h leaves unspecified after a #PF (the result was poisoned). */
static void forget_unspecified(struct smmu_walk *w)
{
	if (w->outcome != SMMU_WALK_PF)
		return;
	w->gpa = w->page_size = 0;
	w->access = w->pkey = 0;
	w->global = false;
}

/*
 * The fields x86.h makes comparable for this outcome: on #PF the error code
 * and the levels walked (x86.h: filled "as far as the walk got"); on success
 * the translation, its rights and every level used.
 */
static bool results_agree(const struct smmu_walk *p, const struct smmu_walk *r,
                          const struct guestmem *mem)
{
	if (p->outcome != r->outcome)
		return false;
	if (r->outcome == SMMU_WALK_PF)
		return p->error_code == r->error_code && levels_agree(p, r, mem);
	if (r->outcome == SMMU_WALK_GP) /* x86.h: #GP zeroes every other field */
		return !p->error_code && !p->gpa && !p->level && !p->page_size && !p->access &&
		       !p->pkey && !p->global && !p->root_level && gptes_zero(p);
	if (p->gpa != r->gpa || p->page_size != r->page_size || p->access != r->access ||
	    p->pkey != r->pkey || p->global != r->global)
		return false;
	return levels_agree(p, r, mem);
}

static void report_mismatch(struct matrix *mx, const struct mcase *c, const struct smmu_walk *p,
                            const struct smmu_walk *r, bool mem_equal, uint64_t diff)
{
	char buf[512];

	mx->mismatches++;
	CHECK_MSG(false, "walk mismatch (%lu so far)", mx->mismatches);
	if (mx->mismatches > MAX_REPORTS)
		return;
	describe_case(c, mx->cases);
	ref_walk_describe(p, buf, sizeof(buf));
	fprintf(stderr, "  prod: %s\n", buf);
	ref_walk_describe(r, buf, sizeof(buf));
	fprintf(stderr, "  ref:  %s\n", buf);
	if (!mem_equal)
		fprintf(stderr,
		        "  memories differ first at gpa 0x%" PRIx64 ": prod 0x%016" PRIx64
		        " ref 0x%016" PRIx64 "\n",
		        diff, guestmem_peek(mx->prod_mem, diff & ~7ull, 8),
		        guestmem_peek(mx->ref_mem, diff & ~7ull, 8));
}

static void run_case(struct matrix *mx, struct mcase *c)
{
	struct smmu_gpa_ops prod_ops = guestmem_ops(mx->prod_mem);
	struct smmu_gpa_ops ref_ops = guestmem_ops(mx->ref_mem);
	struct smmu_walk p, r;
	uint64_t diff = 0;
	bool mem_equal, agree;

	install_case(mx, c);
	memset(&p, 0xa5, sizeof(p)); /* poison: every specified field must be written */
	ref_walk(&c->s, &c->m, &ref_ops, c->gva, c->acc, &r);
	smmu_x86_walk(&c->s, &c->m, &prod_ops, c->gva, c->acc, &p);
	forget_unspecified(&p);
	mem_equal = guestmem_equal(mx->prod_mem, mx->ref_mem, &diff);
	agree = results_agree(&p, &r, mx->ref_mem) &&
	        smmu_x86_gva_canonical(&c->s, c->gva) == (r.outcome != SMMU_WALK_GP);
	mx->cases++;
	mx->outcomes[outcome_kind(&r)]++;
	if (!agree || !mem_equal)
		report_mismatch(mx, c, &p, &r, mem_equal, diff);
	uninstall_case(mx, c, !mem_equal);
}

/* ---- the sweeps ------------------------------------------------------------ */

/* A fresh case in `mode` with model, control (from `core`), gva and table placement. */
static void begin_case(struct matrix *mx, struct mcase *c, enum smmu_paging_mode mode,
                       unsigned core)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->root = root_level(mode);
	pick_model(mx, mode, &c->m);
	pick_control(mx, c, core);
	c->gva = pick_gva(mx, c);
	for (unsigned l = 1; l <= c->root; l++)
		c->ro[l - 1] = rnd_chance(mx, 8);
	c->races = rnd_chance(mx, 5) ? 1 + rnd_below(mx, 3) : 0;
}

/* Fill the entries from the root down, level l with pattern pat_of[l - 1]. */
static void fill_entries(struct matrix *mx, struct mcase *c, const unsigned *pat_of)
{
	for (unsigned l = c->root; l >= 1; l--) {
		if (c->mode == SMMU_PAGING_PAE && l == 3)
			c->entry[2] = make_pae_pdpte(mx, c, pat_of[2] & PAT_P);
		else
			c->entry[l - 1] = make_entry(mx, c, l, pat_of[l - 1]);
	}
	c->s.pkru = pick_pkru(mx, (unsigned)(c->entry[0] >> X86_PTE_PKEY_SHIFT) & 0xf);
	if (rnd_chance(mx, 50)) /* the key of a large leaf */
		c->s.pkru = pick_pkru(mx, (unsigned)(c->entry[1] >> X86_PTE_PKEY_SHIFT) & 0xf);
}

/* Level sweep of level l: all patterns x all core control states x REPEATS. */
static void sweep_level(struct matrix *mx, enum smmu_paging_mode mode, unsigned l)
{
	unsigned npat = (mode == SMMU_PAGING_PAE && l == 3) ? 2 : PAT_COUNT;
	unsigned reps = (mode == SMMU_PAGING_PAE && l == 3) ? 64 * REPEATS : REPEATS;

	for (unsigned pat = 0; pat < npat; pat++)
		for (unsigned core = 0; core < 24; core++)
			for (unsigned rep = 0; rep < reps; rep++) {
				unsigned pat_of[5];
				struct mcase c;

				begin_case(mx, &c, mode, core);
				for (unsigned k = 1; k <= c.root; k++)
					pat_of[k - 1] =
					    k == l ? pat : pattern_biased(mx, &c, k > l);
				fill_entries(mx, &c, pat_of);
				run_case(mx, &c);
			}
}

static void sweep_random(struct matrix *mx, enum smmu_paging_mode mode, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned pat_of[5];
		struct mcase c;

		begin_case(mx, &c, mode, rnd_below(mx, 24));
		for (unsigned k = 1; k <= c.root; k++)
			pat_of[k - 1] = rnd_chance(mx, 70) ? pattern_biased(mx, &c, false)
			                                   : rnd_below(mx, PAT_COUNT);
		fill_entries(mx, &c, pat_of);
		run_case(mx, &c);
	}
}

static bool matrix_init(struct matrix *mx)
{
	memset(mx, 0, sizeof(*mx));
	mx->rng = MATRIX_SEED;
	mx->pristine = guestmem_create(MEM_SIZE);
	if (!mx->pristine)
		return false;
	/* Tables of levels 1..5 at pages 1..5 (writable) and 6..10 (read-only). */
	guestmem_set_readonly(mx->pristine, RO_TABLE_PAGE(1), 5 * 4096);
	mx->prod_mem = guestmem_clone(mx->pristine);
	mx->ref_mem = guestmem_clone(mx->pristine);
	return mx->prod_mem && mx->ref_mem;
}

static void matrix_fini(struct matrix *mx)
{
	guestmem_destroy(mx->prod_mem);
	guestmem_destroy(mx->ref_mem);
	guestmem_destroy(mx->pristine);
}

/* The whole matrix for one paging mode. */
static void run_mode(enum smmu_paging_mode mode, unsigned long min_cases)
{
	struct matrix mx;
	double t0 = smmu_now_seconds();

	REQUIRE(matrix_init(&mx));
	mx.rng ^= (uint64_t)mode << 56;
	if (mode == SMMU_PAGING_OFF) {
		sweep_random(&mx, mode, OFF_CASES);
	} else {
		for (unsigned l = root_level(mode); l >= 1; l--)
			sweep_level(&mx, mode, l);
		sweep_random(&mx, mode, RANDOM_CASES);
	}
	printf("  %-7s %8lu cases, %lu mismatches, %.1f s;", ref_paging_mode_name(mode), mx.cases,
	       mx.mismatches, smmu_now_seconds() - t0);
	for (unsigned k = 0; k < OUTCOME_KINDS; k++)
		printf(" %s %lu", outcome_names[k], mx.outcomes[k]);
	printf("\n");
	CHECK(mx.cases >= min_cases);
	CHECK_EQ(mx.mismatches, 0);
	matrix_fini(&mx);
}

static void test_walk_matches_reference_with_paging_off(void)
{
	run_mode(SMMU_PAGING_OFF, OFF_CASES);
}

static void test_walk_matches_reference_in_32bit_paging(void)
{
	run_mode(SMMU_PAGING_32BIT, 2 * PAT_COUNT * 24 * REPEATS);
}

static void test_walk_matches_reference_in_pae_paging(void)
{
	run_mode(SMMU_PAGING_PAE, 2 * PAT_COUNT * 24 * REPEATS);
}

static void test_walk_matches_reference_in_4level_paging(void)
{
	run_mode(SMMU_PAGING_4LEVEL, 4 * PAT_COUNT * 24 * REPEATS);
}

static void test_walk_matches_reference_in_5level_paging(void)
{
	run_mode(SMMU_PAGING_5LEVEL, 5 * PAT_COUNT * 24 * REPEATS);
}

/* ---- PAE PDPTE loads (SDM 4.4.1) ---------------------------------------- */

#define PDPTE_CASES 20000

/* A PDPTE: not-present junk, a valid one, or a valid one plus a candidate bit. */
static uint64_t pick_pdpte(struct matrix *mx, const struct smmu_cpu_model *m)
{
	static const unsigned odd[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 51, 52, 62, 63};
	uint64_t e = (rnd(mx) & bits_below(m->maxphyaddr) & ~0xfffull) | X86_PTE_P;

	if (rnd_chance(mx, 25))
		return rnd(mx) & ~1ull;
	if (rnd_chance(mx, 40))
		return e;
	switch (rnd_below(mx, 5)) {
	case 0:
		return e | (1ull << (m->maxphyaddr - 1));
	case 1:
		return m->maxphyaddr < 64 ? e | (1ull << m->maxphyaddr) : e;
	default:
		return e | (1ull << odd[rnd_below(mx, 15)]);
	}
}

/*
 * One PDPTE load through a CR write the architecture loads on (a CR3 write
 * in PAE paging, CR0.PG set with CR4.PAE, a CR4.PGE/PSE/SMEP toggle in PAE
 * paging), checked against ref_pae_load_pdptrs(): #GP with the state
 * untouched, or success with the same four registers.
 */
static void run_pdpte_case(struct matrix *mx, struct smmu_gpa_ops *ops, unsigned n)
{
	struct smmu_cpu_model m;
	struct smmu_cpu_state s, before;
	enum smmu_tlb_flush flush;
	enum smmu_cr_result res = SMMU_CR_UD;
	uint64_t cr3 = 0x1000 + 32 * rnd_below(mx, 128), regs[4] = {0};
	unsigned how = rnd_below(mx, 3);
	int want;

	pick_model(mx, SMMU_PAGING_PAE, &m);
	if (rnd_chance(mx, 3))
		cr3 = MEM_SIZE + 0x1000; /* unbacked: reads as all ones */
	for (unsigned i = 0; i < 4; i++)
		guestmem_write64(mx->prod_mem, (cr3 & ~0x1full) + 8 * i, pick_pdpte(mx, &m));
	smmu_cpu_state_reset(&s);
	s.cr4 = X86_CR4_PAE;
	s.cr3 = how == 0 ? 0x1000 : cr3;
	if (how != 1)
		s.cr0 |= X86_CR0_PG;
	before = s;
	want = ref_pae_load_pdptrs(&m, ops, cr3, regs);
	if (how == 0)
		res = smmu_x86_write_cr3(&s, &m, ops, cr3, &flush);
	else if (how == 1)
		res = smmu_x86_write_cr0(&s, &m, ops, s.cr0 | X86_CR0_PG, &flush);
	else
		res = smmu_x86_write_cr4(&s, &m, ops, s.cr4 ^ (m.smep ? X86_CR4_SMEP : X86_CR4_PGE),
		                         &flush);
	mx->cases++;
	if (res == (want ? SMMU_CR_GP : SMMU_CR_OK) &&
	    (want ? !memcmp(&s, &before, sizeof(s)) : !memcmp(s.pdptrs, regs, sizeof(regs))))
		return;
	mx->mismatches++;
	CHECK_MSG(false, "PDPTE load mismatch (%lu so far)", mx->mismatches);
	if (mx->mismatches > MAX_REPORTS)
		return;
	fprintf(stderr,
	        "  case #%u via %s, maxphyaddr=%u cr3=0x%" PRIx64 " ref %s, prod result %d\n"
	        "  memory: 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n"
	        "  prod pdptrs: 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
	        n,
	        how == 0   ? "cr3"
	        : how == 1 ? "cr0.PG"
	                   : "cr4",
	        m.maxphyaddr, cr3, want ? "#GP" : "ok", res,
	        guestmem_peek(mx->prod_mem, cr3 & ~0x1full, 8),
	        guestmem_peek(mx->prod_mem, (cr3 & ~0x1full) + 8, 8),
	        guestmem_peek(mx->prod_mem, (cr3 & ~0x1full) + 16, 8),
	        guestmem_peek(mx->prod_mem, (cr3 & ~0x1full) + 24, 8), s.pdptrs[0], s.pdptrs[1],
	        s.pdptrs[2], s.pdptrs[3]);
}

static void test_pae_pdpte_load_matches_reference(void)
{
	struct matrix mx;
	struct smmu_gpa_ops ops;

	REQUIRE(matrix_init(&mx));
	ops = guestmem_ops(mx.prod_mem);
	for (unsigned n = 0; n < PDPTE_CASES; n++)
		run_pdpte_case(&mx, &ops, n);
	printf("  pdpte   %8lu loads, %lu mismatches\n", mx.cases, mx.mismatches);
	CHECK_EQ(mx.mismatches, 0);
	matrix_fini(&mx);
}

int main(void)
{
	RUN(test_walk_matches_reference_with_paging_off);
	RUN(test_walk_matches_reference_in_32bit_paging);
	RUN(test_walk_matches_reference_in_pae_paging);
	RUN(test_walk_matches_reference_in_4level_paging);
	RUN(test_walk_matches_reference_in_5level_paging);
	RUN(test_pae_pdpte_load_matches_reference);
	return check_finish();
}
