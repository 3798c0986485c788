/*
 * shadowmmu/x86.h - architectural x86 paging types shared by the library,
 * its users and the independent reference models in tests/.
 *
 * Everything here is the architecture's, not the MMU's: control-register
 * and page-table bit names (Intel SDM Vol. 3A ch. 2 and 4), the guest CPU
 * model (what CPUID would report), the register state that paging depends
 * on, and the interface of the guest page walker.  The production walker
 * (src/x86/) and the reference walker (tests/ref/) share these types and
 * nothing else.
 */
#ifndef SHADOWMMU_X86_H
#define SHADOWMMU_X86_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- control registers (SDM Vol. 3A 2.5) -------------------------------- */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)

#define X86_CR3_PCID_MASK 0xfffull
#define X86_CR3_NOFLUSH   (1ull << 63)

#define X86_CR4_VME        (1ull << 0)
#define X86_CR4_PVI        (1ull << 1)
#define X86_CR4_TSD        (1ull << 2)
#define X86_CR4_DE         (1ull << 3)
#define X86_CR4_PSE        (1ull << 4)
#define X86_CR4_PAE        (1ull << 5)
#define X86_CR4_MCE        (1ull << 6)
#define X86_CR4_PGE        (1ull << 7)
#define X86_CR4_PCE        (1ull << 8)
#define X86_CR4_OSFXSR     (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_CR4_UMIP       (1ull << 11)
#define X86_CR4_LA57       (1ull << 12)
#define X86_CR4_FSGSBASE   (1ull << 16)
#define X86_CR4_PCIDE      (1ull << 17)
#define X86_CR4_OSXSAVE    (1ull << 18)
#define X86_CR4_SMEP       (1ull << 20)
#define X86_CR4_SMAP       (1ull << 21)
#define X86_CR4_PKE        (1ull << 22)

#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)

/* ---- paging-structure entries (SDM Vol. 3A 4.3-4.5) --------------------- */
#define X86_PTE_P      (1ull << 0)
#define X86_PTE_RW     (1ull << 1)
#define X86_PTE_US     (1ull << 2)
#define X86_PTE_PWT    (1ull << 3)
#define X86_PTE_PCD    (1ull << 4)
#define X86_PTE_A      (1ull << 5)
#define X86_PTE_D      (1ull << 6)
#define X86_PTE_PS     (1ull << 7) /* in a PDE/PDPTE: maps a page */
#define X86_PTE_PAT    (1ull << 7) /* in a 4 KiB PTE */
#define X86_PTE_G      (1ull << 8)
#define X86_PTE_LPAT   (1ull << 12) /* PAT bit of a 2M/4M/1G entry */
#define X86_PTE_NX     (1ull << 63)
#define X86_PTE_PKEY_SHIFT 59 /* bits 62:59 of a leaf, 4/5-level paging */

/* ---- #PF error code (SDM Vol. 3A 4.7) ----------------------------------- */
#define X86_PFEC_P    (1u << 0) /* 0: not present; 1: protection violation */
#define X86_PFEC_W    (1u << 1) /* the access was a write */
#define X86_PFEC_U    (1u << 2) /* the access was a user-mode access (CPL 3) */
#define X86_PFEC_RSVD (1u << 3) /* a reserved bit was set */
#define X86_PFEC_I    (1u << 4) /* the access was an instruction fetch */
#define X86_PFEC_PK   (1u << 5) /* protection-key violation */

/* ---- the guest CPU model (the trace format's `cpu` record) -------------- */
struct smmu_cpu_model {
	unsigned maxphyaddr; /* 32..52; default 46 */
	bool gbpages;        /* 1 GiB pages (CPUID 80000001H:EDX.Page1GB) */
	bool la57;           /* 5-level paging */
	bool pcid;           /* CR4.PCIDE allowed */
	bool pku;            /* protection keys, CR4.PKE allowed */
	bool smep;           /* CR4.SMEP allowed */
	bool smap;           /* CR4.SMAP allowed */
	bool nx;             /* EFER.NXE allowed */
	bool pse36;          /* PSE-36 in 32-bit paging */
};

/* Every feature on, MAXPHYADDR 46: the trace format's defaults. */
void smmu_cpu_model_default(struct smmu_cpu_model *m);

/* ---- the register state paging depends on ------------------------------ */
struct smmu_cpu_state {
	uint64_t cr0, cr3, cr4, efer; /* efer.LMA is maintained by cr0 writes */
	uint32_t pkru;
	unsigned cpl;       /* 0 or 3: the privilege of the accesses */
	bool ac;            /* RFLAGS.AC: overrides SMAP for data accesses */
	uint64_t pdptrs[4]; /* PAE paging: the PDPTE registers (SDM 4.4.1) */
};

/* The reset state of every vCPU in a trace: flat protected mode, paging off. */
void smmu_cpu_state_reset(struct smmu_cpu_state *s);

/* Paging mode, derived from CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57. */
enum smmu_paging_mode {
	SMMU_PAGING_OFF,    /* CR0.PG = 0: linear = physical */
	SMMU_PAGING_32BIT,  /* 2 levels, 32-bit entries */
	SMMU_PAGING_PAE,    /* PDPTE registers + 2 levels, 64-bit entries */
	SMMU_PAGING_4LEVEL, /* IA-32e, 48-bit linear addresses */
	SMMU_PAGING_5LEVEL, /* IA-32e with CR4.LA57, 57-bit linear addresses */
};

enum smmu_paging_mode smmu_paging_mode(const struct smmu_cpu_state *s);

/* ---- guest-physical memory as the walker sees it ------------------------ */
/*
 * read: read an aligned 4- or 8-byte paging-structure entry at gpa.  Returns
 * 0, or a negative errno when no memslot backs gpa (the walk then faults as
 * not present, as KVM's does).
 * cmpxchg: atomically replace `old` with `new` at gpa (aligned, 4 or 8
 * bytes).  Returns 0 when swapped, 1 when memory held a value other than
 * `old` (the guest raced: the walker restarts), or a negative errno when gpa
 * is not writable guest memory (no slot, read-only slot: the A/D update is
 * skipped, per the trace format).
 */
struct smmu_gpa_ops {
	int (*read)(void *ctx, uint64_t gpa, unsigned size, uint64_t *val);
	int (*cmpxchg)(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val);
	void *ctx;
};

/* ---- the guest page walker --------------------------------------------- */
enum smmu_access_type {
	SMMU_ACCESS_READ,
	SMMU_ACCESS_WRITE,
	SMMU_ACCESS_FETCH,
};

enum smmu_walk_outcome {
	SMMU_WALK_OK, /* translated: gpa, level, rights are valid */
	SMMU_WALK_PF, /* page fault: error_code is valid, CR2 = the gva */
	SMMU_WALK_GP, /* general protection: a non-canonical address */
};

#define SMMU_MAX_LEVELS 5

/* The effective rights of a translation, combined across all levels. */
#define SMMU_ACC_W (1u << 0) /* every level has R/W = 1 */
#define SMMU_ACC_U (1u << 1) /* every level has U/S = 1 */
#define SMMU_ACC_X (1u << 2) /* no level has XD = 1 (or EFER.NXE = 0) */

struct smmu_walk {
	enum smmu_walk_outcome outcome;
	uint32_t error_code; /* SMMU_WALK_PF: X86_PFEC_* bits */
	uint64_t gpa;        /* SMMU_WALK_OK: the guest-physical address */
	unsigned level;      /* level of the leaf: 1 (4K), 2 (2M/4M), 3 (1G); 0 if paging off.
	                        SMMU_WALK_PF: the level whose entry faulted (the leaf for a
	                        rights or protection-key fault; 3 for a PAE PDPTE) */
	uint64_t page_size;  /* bytes mapped by the leaf (4 KiB when paging is off) */
	unsigned access;     /* SMMU_ACC_* rights combined across levels */
	unsigned pkey;       /* bits 62:59 of the leaf in 4/5-level paging (whatever
	                        CR4.PKE says), else 0 */
	bool global;         /* the leaf has G = 1 (and CR4.PGE = 1) */

	/*
	 * Per-level detail for the shadow MMU, indexed by level - 1.  Levels
	 * from `root_level` down to `level` are filled as far as the walk got;
	 * for PAE paging, level 3 describes the PDPTE register that was used.
	 * gpte[] holds the entries as they are after the walker's A/D update.
	 */
	unsigned root_level;              /* 2, 3, 4 or 5; 0 if paging off */
	uint64_t gpte[SMMU_MAX_LEVELS];    /* the entry read at each level */
	uint64_t pte_gpa[SMMU_MAX_LEVELS]; /* where it was read (PAE level 3: 0) */
};

/*
 * Translate `gva` for one access under the register state `s` and model
 * `m`, reading guest page tables through `mem`.  On success sets Accessed
 * in every entry used and Dirty in the leaf on a write (compare-and-exchange
 * against guest memory; a raced update restarts the walk).  A walk that
 * faults sets no A or D bit.  Returns w->outcome.
 * Outside IA-32e mode only bits 31:0 of gva are used (with paging off, gpa
 * is those bits).  SMMU_WALK_GP zeroes every other field of *w.
 */
enum smmu_walk_outcome smmu_x86_walk(const struct smmu_cpu_state *s,
                                     const struct smmu_cpu_model *m,
                                     const struct smmu_gpa_ops *mem, uint64_t gva,
                                     enum smmu_access_type access, struct smmu_walk *w);

/* ---- control-register writes ------------------------------------------- */
/*
 * Each write validates the value against the architecture and the CPU model
 * (the #GP rules of trace-format.md, SDM Vol. 3A 2.5 and 4.1), loads the PAE
 * PDPTE registers where the write requires it (a reserved bit in a present
 * PDPTE is #GP, SDM 4.4.1), and on success updates `s` and reports the TLB
 * invalidation the architecture requires (SDM 4.10.4.1) in *flush.
 */
enum smmu_cr_result {
	SMMU_CR_OK,
	SMMU_CR_GP,
	SMMU_CR_UD,
};

/* What a successful write requires the TLB to drop (SDM 4.10.4.1). */
enum smmu_tlb_flush {
	SMMU_FLUSH_NONE,           /* nothing (e.g. PCID no-flush cr3 write) */
	SMMU_FLUSH_PCID_NONGLOBAL, /* non-global entries of the new cr3's PCID */
	SMMU_FLUSH_PCID_ALL,       /* all entries (global too) of the current PCID */
	SMMU_FLUSH_ALL,            /* every entry of every PCID, global included */
};

enum smmu_cr_result smmu_x86_write_cr0(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                       const struct smmu_gpa_ops *mem, uint64_t val,
                                       enum smmu_tlb_flush *flush);
enum smmu_cr_result smmu_x86_write_cr3(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                       const struct smmu_gpa_ops *mem, uint64_t val,
                                       enum smmu_tlb_flush *flush);
enum smmu_cr_result smmu_x86_write_cr4(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                       const struct smmu_gpa_ops *mem, uint64_t val,
                                       enum smmu_tlb_flush *flush);
enum smmu_cr_result smmu_x86_write_efer(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                        uint64_t val, enum smmu_tlb_flush *flush);
enum smmu_cr_result smmu_x86_write_pkru(struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                        uint64_t val);

/* True if gva is canonical for the current mode (always true outside IA-32e). */
bool smmu_x86_gva_canonical(const struct smmu_cpu_state *s, uint64_t gva);

#ifdef __cplusplus
}
#endif
#endif /* SHADOWMMU_X86_H */
