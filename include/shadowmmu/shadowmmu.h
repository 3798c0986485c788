/*
 * shadowmmu/shadowmmu.h - the library's public API.
 *
 * A VM owns host memory (a frame arena), memslots, the shadow MMU and its
 * vCPUs.  Guest operations (the trace format's guest records) run on one
 * vCPU through the software "hardware" and the shadow MMU, and report what
 * the guest observes: a value, a page fault with its error code, a #GP or
 * #UD, or an MMIO access.  Calls return 0 or a negative errno; guest
 * misbehaviour is never an error of the call, it is the guest's fault.
 *
 * Threads: with `threaded` set in the configuration, each vCPU may be driven
 * by its own thread (one thread per vCPU at a time); the MMU then waits for
 * the other vCPUs to leave "guest mode" before it frees or reuses anything
 * they could still be walking (KVM's remote TLB flush).  VM-level calls
 * (memslots, host operations, zap-all, statistics) must not run concurrently
 * with vCPU calls.  Without `threaded`, one thread drives all vCPUs.
 */
#ifndef SHADOWMMU_SHADOWMMU_H
#define SHADOWMMU_SHADOWMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <shadowmmu/shortcuts.h>
#include <shadowmmu/stats.h>
#include <shadowmmu/x86.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMMU_MAX_VCPUS 256

struct smmu_vm;

/*
 * The MMU the VM runs on: shadow paging (the MMU shadows the guest's page
 * tables) or two-dimensional paging (the vCPU walks the guest's tables
 * itself, through EPT tables the TDP MMU builds; docs/tdp.md).
 */
enum smmu_mmu_mode {
	SMMU_MMU_SHADOW,
	SMMU_MMU_TDP,
};

struct smmu_vm_config {
	unsigned nr_vcpus;           /* 1..SMMU_MAX_VCPUS */
	struct smmu_cpu_model model; /* the guest CPU */
	uint64_t arena_bytes;        /* host "physical" memory reserved lazily */
	uint64_t n_max_mmu_pages;    /* cap on shadow pages; 0: a quarter of the arena */
	bool unsync;                 /* allow unsync shadow pages (KVM's default) */
	bool audit;                  /* check MMU invariants after every operation */
	bool huge_backing;           /* back memslots with 2 MiB host pages */
	bool threaded;               /* vCPUs run on their own threads (see above) */
	unsigned tlb_sets, tlb_ways; /* vCPU TLB geometry; 0: 64 x 4 */
	uint32_t shortcuts;          /* SMMU_SHORTCUT_* switched on (shadowmmu/shortcuts.h) */
	enum smmu_mmu_mode mmu;      /* SMMU_MMU_SHADOW (default) or SMMU_MMU_TDP */
	bool ept_ad;                 /* TDP only: EPT accessed/dirty flags (KVM's default) */
	bool nx_huge_pages;          /* TDP only: the NX huge page mitigation (docs/tdp.md) */
	bool slot_zap_range;         /* TDP only: deleting/moving a slot zaps its range, not all */
};

/* "shadow" or "tdp"; NULL for another value. */
const char *smmu_mmu_mode_name(enum smmu_mmu_mode mode);

/*
 * Defaults: 1 vCPU, every CPU feature, 16 GiB arena, unsync on, audit off,
 * every shortcut, the shadow MMU.  Choosing SMMU_MMU_TDP, set ept_ad too
 * for KVM's default EPT; ept_ad with the shadow MMU is -EINVAL.
 */
void smmu_vm_config_default(struct smmu_vm_config *cfg);

int smmu_vm_create(const struct smmu_vm_config *cfg, struct smmu_vm **out);

/*
 * NX huge pages (TDP with nx_huge_pages): zap ceil(nx_lpage_splits / ratio)
 * of the tables that execution split from huge pages, oldest first, so that
 * their ranges may be mapped huge again; ratio 0 means KVM's 60.  What
 * KVM's recovery thread does each period, at the caller's moment.  Returns
 * how many were zapped, or -EINVAL (no VM, or the mitigation is off).
 */
int smmu_vm_recover_nx_huge_pages(struct smmu_vm *vm, unsigned ratio);
void smmu_vm_destroy(struct smmu_vm *vm);

/* ---- memslots (KVM_SET_USER_MEMORY_REGION) --------------------------------- */
#define SMMU_SLOT_READONLY  (1u << 0) /* guest writes exit as MMIO */
#define SMMU_SLOT_LOG_DIRTY (1u << 1) /* dirty logging */

/* Add slot `id` mapping [gpa, gpa + size) to new zero-filled memory.
 * -EINVAL (alignment, range, id), -EEXIST (id in use or overlap), -ENOMEM. */
int smmu_vm_add_slot(struct smmu_vm *vm, unsigned id, uint64_t gpa, uint64_t size, unsigned flags);
int smmu_vm_delete_slot(struct smmu_vm *vm, unsigned id);
int smmu_vm_move_slot(struct smmu_vm *vm, unsigned id, uint64_t new_gpa);
int smmu_vm_set_slot_flags(struct smmu_vm *vm, unsigned id, unsigned flags);
/* Slot `id`'s placement and SMMU_SLOT_* flags: 0 or -EINVAL (no such slot). */
int smmu_vm_get_slot(struct smmu_vm *vm, unsigned id, uint64_t *gpa, uint64_t *size,
                     unsigned *flags);
/*
 * Dirty logging (KVM_GET_DIRTY_LOG): copy slot `id`'s log into bitmap (bit i
 * = slot page i written since the last fetch; `words` 64-bit words, at least
 * (pages + 63) / 64) and clear it.  -EINVAL (no slot, short buffer), -ENOENT
 * (logging off).
 */
int smmu_vm_get_dirty_log(struct smmu_vm *vm, unsigned id, uint64_t *bitmap, size_t words);

/*
 * Host memory operations on the pages backing [gpa, gpa + size) (4 KiB
 * aligned, every page in a memslot, else -EINVAL).  Each reaches the MMU
 * through its MMU notifier, as the host kernel's would reach KVM; none
 * changes what the guest sees.
 *   swap: the host reclaims the frames (contents kept in swap, brought back
 *         on the next touch); migrate: contents move to new frames;
 *   age:  test and clear the accessed state; bit i of bitmap = page i was
 *         accessed (by the guest or the host) since the last age.
 * Pages never touched, or backed by huge frames, are left alone.
 */
int smmu_vm_host_swap(struct smmu_vm *vm, uint64_t gpa, uint64_t size);
int smmu_vm_host_migrate(struct smmu_vm *vm, uint64_t gpa, uint64_t size);
int smmu_vm_host_age(struct smmu_vm *vm, uint64_t gpa, uint64_t size, uint64_t *bitmap,
                     size_t words);
/*
 * Page merging (KSM): back the pages at gpa1 and gpa2 with one frame,
 * copy-on-write, if their contents are identical.  0; -EINVAL (no slot,
 * unaligned, contents differ, same page); -EBUSY (a page never touched or
 * huge-backed: not merged).
 */
int smmu_vm_host_merge(struct smmu_vm *vm, uint64_t gpa1, uint64_t gpa2);

/* Drop every shadow page (fast: generation bump). Guest-visible behaviour is unchanged. */
void smmu_vm_zap_all(struct smmu_vm *vm);

/* Host-side access to guest memory (tests, tools): -EFAULT if not backed. */
int smmu_vm_read_gpa(struct smmu_vm *vm, uint64_t gpa, void *buf, size_t len);
int smmu_vm_write_gpa(struct smmu_vm *vm, uint64_t gpa, const void *buf, size_t len);
/*
 * Read guest memory as the guest would see it, without touching it: no
 * host page is faulted in or marked accessed (a page never touched reads
 * as zeros).  For checkers and digests of large memories.  0 or -EFAULT.
 */
int smmu_vm_peek_gpa(struct smmu_vm *vm, uint64_t gpa, void *buf, size_t len);

/* ---- guest operations on one vCPU ---------------------------------------- */
enum smmu_result {
	SMMU_OK,        /* done; reads: value */
	SMMU_PF,        /* page fault: error_code (CR2 = the gva) */
	SMMU_GP,        /* general protection */
	SMMU_UD,        /* invalid opcode */
	SMMU_MMIO,      /* no memory behind the gpa: reads give all ones, writes vanish */
	SMMU_EMUL_FAIL, /* the MMU could not complete the access (out of memory) */
	SMMU_INVALID,   /* a malformed request (size, page crossing, bad register) */
};

struct smmu_outcome {
	enum smmu_result result;
	uint64_t value;      /* reads and fetches (MMIO reads: all ones) */
	uint32_t error_code; /* SMMU_PF */
};

enum smmu_reg { SMMU_REG_CR0, SMMU_REG_CR3, SMMU_REG_CR4, SMMU_REG_EFER, SMMU_REG_PKRU };

/* Each returns 0 and fills *out, or -EINVAL for a bad vCPU index. */
int smmu_vcpu_read(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, unsigned size,
                   struct smmu_outcome *out);
int smmu_vcpu_write(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, unsigned size,
                    uint64_t value, struct smmu_outcome *out);
int smmu_vcpu_fetch(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, struct smmu_outcome *out);
int smmu_vcpu_write_reg(struct smmu_vm *vm, unsigned vcpu, enum smmu_reg reg, uint64_t value,
                        struct smmu_outcome *out);
int smmu_vcpu_invlpg(struct smmu_vm *vm, unsigned vcpu, uint64_t gva, struct smmu_outcome *out);
int smmu_vcpu_flush(struct smmu_vm *vm, unsigned vcpu);
int smmu_vcpu_set_cpl(struct smmu_vm *vm, unsigned vcpu, unsigned cpl);
int smmu_vcpu_set_ac(struct smmu_vm *vm, unsigned vcpu, bool ac);
/*
 * A hint that the vCPU will soon read or write gva: starts loading the host
 * memory the access will most likely touch, so that callers running a
 * stream of accesses (trace executors, emulators decoding ahead) can
 * overlap their memory latency.  No effect the guest or the statistics can
 * see; a bad index or address is ignored.
 */
void smmu_vcpu_prefetch(struct smmu_vm *vm, unsigned vcpu, uint64_t gva);
/* The vCPU's registers as the guest sees them. */
int smmu_vcpu_get_state(struct smmu_vm *vm, unsigned vcpu, struct smmu_cpu_state *out);

/* ---- statistics and memory accounting ------------------------------------- */
struct smmu_stats {
#define SMMU_STAT_FIELD(name) uint64_t name;
	SMMU_MMU_STATS(SMMU_STAT_FIELD)
#undef SMMU_STAT_FIELD
	/* vCPU side, summed over vCPUs */
	uint64_t tlb_hits, tlb_misses, hw_walks, mmu_exits;
	/* faults whose TLB fill came from the leaf the MMU installed, not a second walk */
	uint64_t leaf_handbacks;
	/* hardware walks that started from the paging-structure cache (one spte read) */
	uint64_t cached_walks;
	uint64_t mmio_reads, mmio_writes;
	/* memory */
	uint64_t shadow_pages;        /* shadow pages in use */
	uint64_t bytes_sp_headers;    /* struct sp headers */
	uint64_t bytes_spt_frames;    /* shadow page tables (arena frames, incl. special roots) */
	uint64_t bytes_shadowed;      /* indirect pages' gfn/access arrays */
	uint64_t bytes_rmap_desc;     /* rmap / parent-pte descriptors */
	uint64_t bytes_memslot_meta;  /* rmap heads, large-page counts, dirty bitmaps */
	uint64_t bytes_guest_frames;  /* host frames backing guest memory */
	uint64_t guest_pages;         /* pages of guest memory in memslots */
	/* hardware walks: memory references (page-table entries read), total and longest walk */
	uint64_t walk_refs, walk_refs_max;
	/* TDP: exits for EPT violations and EPT misconfigurations (MMIO) */
	uint64_t exits_ept_violation, exits_ept_misconfig;
	/*
	 * Shadow paging: VM exits by reason (docs/cli.md), disjoint, so that
	 * with the two above they add up to every exit the MMU takes part in.
	 * exits_pf: #PF exits handled as page faults (fixed, spurious, or
	 * reflected to the guest); exits_pte_write: #PF exits ended by
	 * emulating the write (to a write-protected guest page table);
	 * exits_mmio: #PF exits ended as MMIO; exits_cr3: MOV to CR3;
	 * exits_invlpg: INVLPG.  All stay 0 with TDP, where none of these exit.
	 */
	uint64_t exits_pf, exits_pte_write, exits_cr3, exits_invlpg, exits_mmio;
};

int smmu_vm_get_stats(struct smmu_vm *vm, struct smmu_stats *out);
/* Check every MMU invariant: 0, or -EUCLEAN with a description in msg. */
int smmu_vm_audit(struct smmu_vm *vm, char *msg, size_t msglen);

/*
 * Write the shadow page DAG reachable from every vCPU's current and cached
 * roots as a Graphviz digraph (`dot -Tsvg`).  0 or -EIO.
 */
int smmu_vm_write_dot(struct smmu_vm *vm, FILE *out);

const char *smmu_result_name(enum smmu_result r);
/* "psc", "fault_path", ... for one SMMU_SHORTCUT_* bit; NULL for anything else. */
const char *smmu_shortcut_name(uint32_t bit);

#ifdef __cplusplus
}
#endif
#endif /* SHADOWMMU_SHADOWMMU_H */
