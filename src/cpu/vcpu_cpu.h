/*
 * vcpu_cpu.h - the software vCPU's architectural core: the "hardware" that
 * runs a guest on shadow page tables.
 *
 * It holds the register state paging depends on (struct smmu_cpu_state),
 * the CPU model, a TLB and the shadow root hpa the MMU installed, and
 * executes the guest operations of the trace format: data reads and writes
 * (1/2/4/8 bytes, little-endian, within one 4 KiB page), one-byte fetches,
 * control-register writes, INVLPG, CPL/AC changes and a full TLB flush.
 *
 * Translation: TLB hit -> rights re-check -> host frame; otherwise the
 * hardware walker (hwwalk.h) walks the shadow tables; success fills the
 * TLB, an exit calls the MMU's page_fault op, which fixes the sptes
 * (retry), or asks for a guest #PF, an MMIO access or reports that it
 * performed the access itself (emulated).  At most VCPU_MAX_FAULT_RETRIES
 * walks are tried per access: an MMU that never fixes the fault gives an
 * emulation failure, never a hang.  With guest paging off the gva is the
 * gpa, still translated through the shadow root (the MMU maps it directly).
 *
 * TDP mode (vcpu_cpu_config.tdp): the root is the EPT's, a miss walks the
 * guest's own tables in two dimensions (walk2d.h: every guest gpa through
 * the EPT, eptwalk.h), a guest #PF goes to the guest without the MMU, and
 * the MMU hears only of EPT violations, misconfigurations and a missing
 * EPT root (struct vcpu_exit's gpa and exit_qual; docs/vcpu.md).
 *
 * The vCPU knows nothing of the MMU beyond struct vcpu_mmu_ops; the MMU
 * drives the vCPU through vcpu_cpu_set_root() and vcpu_cpu_tlb_flush().
 * One thread runs a vCPU; another thread asks it to flush with
 * vcpu_cpu_request_tlb_flush() (KVM's KVM_REQ_TLB_FLUSH), honoured at the
 * start of the vCPU's next operation.
 */
#ifndef SMMU_CPU_VCPU_CPU_H
#define SMMU_CPU_VCPU_CPU_H

#include <shadowmmu/shortcuts.h>
#include <shadowmmu/x86.h>

#include "common.h"
#include "host/arena.h"
#include "cpu/eptwalk.h"
#include "cpu/hwwalk.h"
#include "cpu/nested_tlb.h"
#include "cpu/psc2d.h"
#include "cpu/tlb.h"
#include "x86/paging.h"
#include "cpu/walk2d.h"

#define VCPU_MAX_FAULT_RETRIES 8

/* Registers whose writes the MMU hears about (cr_changed). */
enum vcpu_reg {
	VCPU_REG_CR0,
	VCPU_REG_CR3,
	VCPU_REG_CR4,
	VCPU_REG_EFER,
	VCPU_REG_PKRU,
};

/* The MMU's answer to a shadow-walk exit (KVM's RET_PF_*, in spirit). */
enum vcpu_pf_action {
	VCPU_PF_RETRY,    /* sptes fixed (or root loaded): walk again */
	VCPU_PF_INJECT,   /* the guest's own tables fault: #PF with reply->error_code */
	VCPU_PF_MMIO,     /* no memslot (or a read-only one for a write): MMIO */
	VCPU_PF_EMULATED, /* the MMU did the access itself; reads: reply->value */
	VCPU_PF_FAIL,     /* the MMU cannot handle it: emulation failure */
};

/* What the hardware walk reports to the MMU. */
struct vcpu_exit {
	enum hwwalk_exit reason;
	uint32_t error_code; /* the #PF the shadow walk raised (not the guest's) */
	unsigned level;      /* where the walk stopped */
	uint64_t spte;       /* the spte there (0 if none) */
	unsigned size;       /* bytes accessed: 1, 2, 4, 8 */
	uint64_t value;      /* the data of a write */
	unsigned retry;      /* 0 on the first exit of this access */
	/*
	 * TDP mode (EPT_VIOLATION, EPT_MISCONFIG, NO_ROOT): the gpa whose EPT
	 * walk failed and the EPT_QUAL_* bits (x86/ept.h) of the exit; level
	 * and spte are the EPT level and entry where that walk stopped, and
	 * error_code KVM's PFERR bits derived from the qualification (P, W, I).
	 */
	uint64_t gpa;
	uint64_t exit_qual;
};

struct vcpu_pf_reply {
	uint32_t error_code; /* VCPU_PF_INJECT */
	uint64_t value;      /* VCPU_PF_EMULATED reads */
	/*
	 * VCPU_PF_RETRY, optional: the leaf spte the MMU has just installed for
	 * the gva under the root the vCPU walks, and its level (0: none).  The
	 * vCPU fills its TLB from it (hwwalk_leaf) instead of walking again,
	 * unless a TLB flush was requested in the meantime.
	 */
	uint64_t leaf_spte;
	unsigned leaf_level;
};

/*
 * The MMU's side.  ctx is the MMU's per-vCPU context.  Only page_fault is
 * required.  Calls are made from the vCPU's thread; the MMU may call back
 * into vcpu_cpu_set_root() / vcpu_cpu_tlb_flush() from inside them.
 */
struct vcpu_mmu_ops {
	enum vcpu_pf_action (*page_fault)(void *ctx, gva_t gva, enum smmu_access_type access,
	                                  const struct vcpu_exit *exit,
	                                  struct vcpu_pf_reply *reply);
	/* After a successful write (and the TLB flush it implies). */
	void (*cr_changed)(void *ctx, enum vcpu_reg which, uint64_t old_val, uint64_t new_val);
	/*
	 * Optional: a MOV to CR3 in one call - the new root and the flush it
	 * implies (SMMU_FLUSH_NONE for a PCID no-flush write) - instead of
	 * cr_changed followed by tlb_flush (KVM's kvm_mmu_new_pgd, then the
	 * flush, under one lock).  Context switches make it the common case.
	 */
	void (*cr3_changed)(void *ctx, enum smmu_tlb_flush flush);
	/* After INVLPG (KVM syncs an unsync spte for gva here). */
	void (*invlpg)(void *ctx, gva_t gva);
	/* After an architectural TLB flush of this kind (cr writes, `flush`). */
	void (*tlb_flush)(void *ctx, enum smmu_tlb_flush kind);
};

enum vcpu_result {
	VCPU_OK,        /* done; reads: out->value */
	VCPU_PF,        /* page fault: out->error_code, out->cr2 */
	VCPU_GP,        /* general protection (non-canonical gva, bad register value, ...) */
	VCPU_UD,        /* invalid opcode (WRPKRU without CR4.PKE) */
	VCPU_MMIO,      /* MMIO: reads return all ones (out->value), writes are dropped */
	VCPU_EMUL_FAIL, /* the MMU could not resolve the access */
	VCPU_INVALID,   /* a malformed request: bad size, page crossing, 32-bit overflow */
	VCPU_NR_RESULTS,
};

struct vcpu_outcome {
	enum vcpu_result result;
	uint64_t value;      /* reads and fetches */
	uint32_t error_code; /* VCPU_PF */
	gva_t cr2;           /* VCPU_PF */
};

struct vcpu_cpu_stats {
	uint64_t tlb_hits, tlb_misses; /* translations served from / not from the TLB */
	uint64_t walks;                /* hardware walks */
	uint64_t leaf_handbacks;       /* fills from the MMU's leaf instead of a walk */
	uint64_t cached_walks;         /* walks started from the paging-structure cache */
	/*
	 * Memory references of hardware walks: sptes read (shadow mode), guest
	 * paging-structure entries plus EPT entries read (TDP mode: (n+1)(m+1)-1
	 * for an n-level guest over m-level EPT), and the most of one walk.
	 */
	uint64_t walk_refs, walk_refs_max;
	/*
	 * TDP mode's caches (nested_tlb.h, psc2d.h): EPT translations served by
	 * the nested TLB without reading an EPT entry / not (an EPT walk, or the
	 * EPT PDE cache and one entry: nested_pde_hits); 2D walks that started
	 * from cached upper guest entries.  Cache hits are no walk_refs.
	 */
	uint64_t nested_tlb_hits, nested_tlb_misses, nested_pde_hits;
	uint64_t psc2d_hits;
	uint64_t exits[HWWALK_NR_EXITS];
	uint64_t results[VCPU_NR_RESULTS];
	uint64_t mmio_reads, mmio_writes;
	uint64_t emulated;
	uint64_t retries_exhausted;
};

struct vcpu_cpu_config {
	const struct arena *arena;
	const struct smmu_cpu_model *model; /* copied */
	const struct smmu_gpa_ops *gpa_ops; /* guest memory, for PAE PDPTE loads */
	const struct vcpu_mmu_ops *mmu_ops;
	void *mmu_ctx;
	unsigned tlb_sets, tlb_ways; /* 0: 64 sets x 4 ways */
	bool threaded;               /* other threads may change the shadow tables meanwhile */
	/* The MMU's table generation (psc.h); NULL: no paging-structure cache. */
	const uint64_t *table_gen;
	/*
	 * SMMU_SHORTCUT_* the vCPU may take (shortcuts.h): PSC (also needs
	 * table_gen), LEAF_HANDBACK, PREFETCH_HINTS, and in TDP mode NESTED_TLB
	 * and PSC_2D; 0: none of them.
	 */
	uint32_t shortcuts;
	/*
	 * TDP mode: the root vcpu_cpu_set_root() installs is the EPT's (level
	 * 4 or 5), the vCPU walks the guest's tables through it (walk2d.h) and
	 * exits on EPT violations and misconfigurations only.  ept_ad: EPT
	 * accessed and dirty flags enabled.
	 */
	bool tdp;
	bool ept_ad;
};

struct vcpu_cpu {
	struct smmu_cpu_state state;
	struct smmu_cpu_model model;
	uint64_t cr2;
	unsigned pcid;       /* current PCID (0 without CR4.PCIDE) */
	unsigned va_bits;    /* 48 or 57 in IA-32e mode (canonical check), else 32 */
	bool long_mode;      /* EFER.LMA */
	bool pge;            /* CR4.PGE with paging on: G leaves fill global entries */
	struct hw_perm perm; /* rights rules for the current CPL/AC/CR4/PKRU */
	/* perm for CPL 0 / 3 under the current AC/CR4/PKRU (valid bit per CPL): set_cpl copies */
	struct hw_perm perm_by_cpl[2];
	unsigned perm_valid;
	struct hwwalk_env walk; /* arena, root, root level, &perm, &psc */
	struct psc psc;         /* paging-structure cache of the shadow walk */
	struct tlb tlb;
	const struct smmu_gpa_ops *gpa_ops;
	const struct vcpu_mmu_ops *mmu_ops;
	void *mmu_ctx;
	unsigned requests; /* VCPU_REQ_*, set atomically by other threads */
	unsigned mode;     /* VCPU_*_GUEST_MODE (threaded vCPUs only) */
	bool threaded;     /* run the guest-mode handshake (vcpu_cpu_kick_tlb_flush) */
	struct vcpu_cpu_stats stats;
	uint32_t shortcuts; /* SMMU_SHORTCUT_* switched on (vcpu_cpu_config) */
	bool tdp;           /* TDP mode: misses take the 2D walk over `ept` */
	struct eptwalk_env ept;
	struct nested_tlb ntlb; /* TDP: gpa -> hpa and EPT PDE cache (off: ntlb.on false) */
	struct psc2d psc2d;     /* TDP: the guest's upper entries (off: psc2d.on false) */
	struct x86_paging paging; /* TDP: the guest walker's configuration, rebuilt on CR0/CR4/EFER change */
};

/*
 * KVM's vcpu->mode: a threaded vCPU is IN_GUEST_MODE while it walks shadow
 * tables or touches guest frames through a translation, and OUTSIDE while
 * the MMU runs for it or between operations.
 */
#define VCPU_OUTSIDE_GUEST_MODE 0u
#define VCPU_IN_GUEST_MODE      1u

#define VCPU_REQ_TLB_FLUSH (1u << 0)

/* Set up a vCPU in the reset state, no root.  0, -EINVAL or -ENOMEM. */
int vcpu_cpu_init(struct vcpu_cpu *v, const struct vcpu_cpu_config *cfg);
void vcpu_cpu_destroy(struct vcpu_cpu *v);

/* ---- guest operations (the trace's guest records) ------------------------- */
enum vcpu_result vcpu_cpu_read(struct vcpu_cpu *v, gva_t gva, unsigned size,
                               struct vcpu_outcome *out);
enum vcpu_result vcpu_cpu_write(struct vcpu_cpu *v, gva_t gva, unsigned size, uint64_t value,
                                struct vcpu_outcome *out);
enum vcpu_result vcpu_cpu_fetch(struct vcpu_cpu *v, gva_t gva, struct vcpu_outcome *out);
/* MOV to CR0/CR3/CR4, WRMSR EFER, WRPKRU: VCPU_OK, VCPU_GP or VCPU_UD. */
enum vcpu_result vcpu_cpu_write_reg(struct vcpu_cpu *v, enum vcpu_reg which, uint64_t val);
/* INVLPG: VCPU_GP at CPL 3; a non-canonical address is a no-op. */
enum vcpu_result vcpu_cpu_invlpg(struct vcpu_cpu *v, gva_t gva);
/* The trace's `flush`: the whole TLB, globals included; the MMU is told. */
void vcpu_cpu_flush(struct vcpu_cpu *v);
/* 0, or -EINVAL for a CPL other than 0 or 3. */
int vcpu_cpu_set_cpl(struct vcpu_cpu *v, unsigned cpl);
void vcpu_cpu_set_ac(struct vcpu_cpu *v, bool ac);

/*
 * The level of the shadow root this vCPU's mode walks: 5 under 5-level
 * guest paging (IA-32e with CR4.LA57, the only mode with 57-bit addresses),
 * else 4.  Kept current by every register write, so no mode decoding here.
 */
static inline unsigned vcpu_cpu_root_level(const struct vcpu_cpu *v)
{
	return v->va_bits == 57 ? 5 : 4;
}

/* A hint that an access to gva is coming (see vcpu_cpu.c); no architectural effect. */
void vcpu_cpu_prefetch(const struct vcpu_cpu *v, gva_t gva);

/* ---- the MMU's controls -------------------------------------------------- */
/*
 * Install the shadow root (INVALID_HPA: none) of `level` 4 or 5 - in TDP
 * mode the EPT root (the EPTP) and the EPT's level, 4 or 5.  0 or
 * -EINVAL.  The TLB is kept (a cached root reused on a cr3 switch keeps its
 * translations); after installing a new root the MMU must flush, as KVM's
 * kvm_mmu_load() does.
 */
int vcpu_cpu_set_root(struct vcpu_cpu *v, hpa_t root, unsigned level);
/* Drop TLB entries now (the MMU after zapping sptes); the MMU is not called back. */
void vcpu_cpu_tlb_flush(struct vcpu_cpu *v, enum smmu_tlb_flush kind);
/* From any thread: flush this vCPU's whole TLB before its next operation. */
void vcpu_cpu_request_tlb_flush(struct vcpu_cpu *v);
/*
 * From any thread (KVM's kvm_flush_remote_tlbs): request the flush and, for a
 * threaded vCPU, wait until it has either honoured it or left guest mode, so
 * that when this returns no walk or access of v can still use a translation
 * the caller took away.  The wait is bounded: in guest mode a vCPU runs no
 * lock and calls out to nothing.  Never call it on v from v's own thread
 * while v is in guest mode (the MMU runs outside it).
 */
void vcpu_cpu_kick_tlb_flush(struct vcpu_cpu *v);

#endif /* SMMU_CPU_VCPU_CPU_H */
