/*
 * mmu.h - the shadow MMU as the rest of the library sees it: one mmu_vm
 * per VM, one mmu_vcpu per vCPU, and the events that drive it (Documentation/
 * virt/kvm/mmu.rst, "Reaction to events"): a failed hardware walk, control
 * register writes, invlpg, guest TLB flushes, zap-all, memslot changes.
 */
#ifndef SMMU_MMU_H
#define SMMU_MMU_H

#include <shadowmmu/shortcuts.h>
#include <shadowmmu/x86.h>

#include <stdio.h>

#include "common.h"
#include "mmu/stats.h"

struct mmu_vm;
struct mmu_vcpu;
struct arena;
struct memslots;
struct hostmem;

struct mmu_vm_config {
	struct arena *arena;
	struct memslots *slots;
	struct hostmem *hm;
	unsigned nr_vcpus;
	uint64_t n_max_mmu_pages; /* 0: derived from the arena size */
	bool unsync;              /* allow unsync pages */
	bool audit;               /* check invariants after every operation */
	void (*flush_vcpu_tlb)(void *ctx, unsigned vcpu_id);
	void *flush_ctx;
	uint32_t shortcuts;       /* SMMU_SHORTCUT_* the MMU may take (shortcuts.h) */
	bool tdp;                 /* two-dimensional paging: the TDP MMU builds EPT tables */
	bool ept_ad;              /* TDP: EPT accessed/dirty flags on */
	unsigned tdp_level;       /* TDP: EPT levels, 4 or 5 */
	bool gbpages;             /* TDP: 1 GiB leaves allowed */
	bool nx_huge_pages;       /* TDP: the NX huge page mitigation (docs/tdp.md) */
	bool slot_zap_range;      /* TDP: a deleted or moved slot zaps its range only */
};

int mmu_vm_create(const struct mmu_vm_config *cfg, struct mmu_vm **out);
void mmu_vm_destroy(struct mmu_vm *vm);
int mmu_vcpu_create(struct mmu_vm *vm, unsigned id, struct smmu_cpu_state *cpu,
                    const struct smmu_cpu_model *model, struct mmu_vcpu **out);
void mmu_vcpu_destroy(struct mmu_vcpu *v);

/* What the vCPU must do after a failed hardware walk. */
enum mmu_fault_action {
	MMU_FAULT_RETRY,    /* the translation was fixed: walk again */
	MMU_FAULT_PF,       /* inject #PF with fault->error_code */
	MMU_FAULT_GP,       /* inject #GP */
	MMU_FAULT_MMIO,     /* no memory behind fault->gpa: MMIO semantics */
	MMU_FAULT_EMULATED, /* the MMU performed the write itself */
	MMU_FAULT_ERROR,    /* out of memory or internal error */
};

struct mmu_fault {
	gva_t gva;                    /* in */
	enum smmu_access_type access; /* in */
	unsigned size;                /* in: bytes accessed */
	uint64_t wdata;               /* in: value written (writes) */
	uint64_t exit_spte;           /* in: the spte a reserved-bit exit stopped at, else 0 */
	uint64_t exit_qual;           /* in, TDP: the EPT violation's EPT_QUAL_* bits */
	bool ept_misconfig;           /* in, TDP: the exit was an EPT misconfiguration */
	uint32_t error_code;          /* out: MMU_FAULT_PF */
	gpa_t gpa;                    /* out: MMU_FAULT_MMIO / EMULATED; in, TDP: the gpa */
	/*
	 * out, MMU_FAULT_RETRY: the leaf spte installed for gva under the
	 * vCPU's current root (TDP: the EPT leaf for gpa), and its level;
	 * leaf_level 0 when there is none or later work in the same fault (a
	 * sync of the roots) may have changed it.
	 */
	uint64_t leaf_spte;
	unsigned leaf_level;
};

enum mmu_fault_action mmu_page_fault(struct mmu_vcpu *v, struct mmu_fault *f);

/* The root the hardware walker must use now (loads one if needed); INVALID_HPA on error. */
hpa_t mmu_current_root(struct mmu_vcpu *v);

/* Control-register events (after the architectural write succeeded). */
void mmu_cr3_changed(struct mmu_vcpu *v, bool noflush);
void mmu_context_changed(struct mmu_vcpu *v);
void mmu_invlpg(struct mmu_vcpu *v, gva_t gva);
void mmu_guest_tlb_flush(struct mmu_vcpu *v, bool all_roots);

/* VM-wide events. */
void mmu_zap_all_fast(struct mmu_vm *vm);
void mmu_zap_all_sync(struct mmu_vm *vm);

/*
 * Memslot changes (KVM_SET_USER_MEMORY_REGION), in KVM's two halves:
 * mmu_memslot_prepare before the slot changes (DELETE, MOVE: no
 * translation may go through the old slot any more; KVM's
 * kvm_arch_flush_shadow_memslot, a zap-all here), mmu_memslot_changed
 * after it (KVM's kvm_mmu_slot_apply_flags: FLAGS_ONLY turning dirty
 * logging on write-protects the slot and zaps nothing; turning it off
 * changes nothing; the read-only flag cannot change, as in KVM).
 * `was_logging`: the slot logged before the change.
 */
enum mmu_slot_change {
	MMU_SLOT_CREATE,
	MMU_SLOT_DELETE,
	MMU_SLOT_MOVE,
	MMU_SLOT_FLAGS_ONLY,
};
struct memslot;
void mmu_memslot_prepare(struct mmu_vm *vm, struct memslot *old, enum mmu_slot_change change);
void mmu_memslot_changed(struct mmu_vm *vm, struct memslot *new_slot, bool was_logging,
                         enum mmu_slot_change change);

/*
 * Dirty logging (KVM_GET_DIRTY_LOG): copy and clear slot `id`'s bitmap into
 * out (npages bits), and write-protect the pages that were dirty so their
 * next write is seen.  0, -EINVAL (no slot), -ENOENT (logging off).
 */
int mmu_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out);

/*
 * NX huge pages (TDP): zap ceil(nx_lpage_splits / ratio) of the tables that
 * execution split from huge pages, oldest first, so that their ranges may
 * be mapped huge again (KVM's kvm_recover_nx_huge_pages, driven here by
 * the caller rather than a timer).  Returns how many were zapped.
 */
unsigned mmu_recover_nx_huge_pages(struct mmu_vm *vm, unsigned ratio);

void mmu_get_stats(struct mmu_vm *vm, struct mmu_stats *st);

/* What the MMU's metadata costs, in bytes (smmu_stats' bytes_* fields). */
struct mmu_mem_stats {
	uint64_t shadow_pages;    /* n_used_mmu_pages */
	uint64_t bytes_sp_headers; /* struct sp */
	uint64_t bytes_shadowed;  /* indirect pages' gfn arrays */
	uint64_t bytes_rmap_desc; /* rmap and parent-pte descriptors */
};
void mmu_get_mem_stats(struct mmu_vm *vm, struct mmu_mem_stats *out);

/* For the vCPU: guest memory for its walker, and the table generation its caches follow. */
const struct smmu_gpa_ops *mmu_gpa_ops(struct mmu_vm *vm);
const uint64_t *mmu_table_gen(struct mmu_vm *vm);
/* The root the vCPU's hardware walker must use now (INVALID_HPA: none loaded), and its level. */
hpa_t mmu_root_hpa(const struct mmu_vcpu *v);
unsigned mmu_root_level(const struct mmu_vcpu *v);
/* Whether the vCPU's CR0/CR4/EFER now call for a new paging context (mmu_context_changed). */
bool mmu_context_stale(const struct mmu_vcpu *v);
/* The shadow page DAG of every vCPU's roots, as a Graphviz digraph. */
int mmu_write_dot(struct mmu_vm *vm, FILE *out);
/* Check every invariant; 0, or -EUCLEAN with a description in msg. */
int mmu_check(struct mmu_vm *vm, char *msg, size_t msglen);

#endif /* SMMU_MMU_H */
