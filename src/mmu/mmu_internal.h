/*
 * mmu_internal.h - the MMU's data structures (shared by the files of src/mmu;
 * the rest of the library sees only mmu.h).
 *
 * The model is KVM's (Documentation/virt/kvm/mmu.rst, arch/x86/kvm/mmu/):
 *
 *  - A shadow page (struct sp) is one 4 KiB table of 512 sptes in an arena
 *    frame plus a header.  Its role word says what it shadows (level, direct
 *    or a guest table, the quadrant of a 4-byte-gpte table, the rights
 *    inherited from upper levels, and the CR0/CR4/EFER bits that change how
 *    gptes translate).  (gfn, role) identifies a shadow page: the hash is
 *    keyed by gfn and lookups compare the role word.
 *  - Indirect pages shadow a guest page table at gfn; their `shadowed`
 *    array records the gfn and rights each leaf spte maps.  Direct pages map
 *    a linear gfn range and keep no such array: entry i maps
 *    gfn + (i << 9 * (level - 1)) (KVM commit 2032a93d66fa).
 *  - The sptes form a DAG: a nonleaf spte points at a child sp, and the
 *    child lists that spte in parent_ptes.  Leaf sptes are listed in the
 *    rmap of (memslot, gfn, level).
 *  - A shadowed guest page table is write-protected (every spte mapping its
 *    gfn is read-only), unless all its shadow pages are leaf-level and
 *    `unsync`: then the guest may write it and the MMU resynchronizes on
 *    invlpg, TLB flush and cr3 loads.  unsync_child_bitmap marks the path
 *    from a root down to each unsync page.
 *  - Every sp carries the VM's generation at creation; zap-all bumps the
 *    VM generation, so all existing pages become obsolete at once and are
 *    freed in batches afterwards (KVM commit 5304b8d37c2a, "fast invalidate").
 *
 * Locking: all of it is guarded by the VM's mmu_lock.
 */
#ifndef SMMU_MMU_INTERNAL_H
#define SMMU_MMU_INTERNAL_H

#include "common.h"
#include "host/notifier.h"
#include "mmu/list.h"
#include "mmu/mmu_lock.h"
#include "mmu/mmu_cache.h"
#include "mmu/pte_list.h"
#include "mmu/stats.h"
#include "x86/paging.h"
#include "mmu/spte.h"

struct arena;
struct memslots;
struct memslot;
struct hostmem;
struct mmu_vm;

/* Rights in a role and in `shadowed` entries: SMMU_ACC_W/U/X (shadowmmu/x86.h). */
#define ACC_ALL (SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X)

/*
 * The role of a shadow page; also the hash key with gfn.  Pages for the
 * same gfn with different roles are different pages (a guest table can be
 * shadowed at several levels or under several CR0/CR4 settings at once).
 */
union sp_role {
	uint32_t word;
	struct {
		uint32_t level : 3;           /* 1 = 4K sptes ... 5 = PML5 */
		uint32_t has_4_byte_gpte : 1; /* shadows a 32-bit-paging table */
		uint32_t quadrant : 2;        /* which part of a 4-byte-gpte table */
		uint32_t direct : 1;          /* maps a linear gfn range */
		uint32_t access : 3;          /* ACC_* inherited from upper levels */
		uint32_t invalid : 1;         /* zapped while still a root */
		uint32_t efer_nx : 1;         /* EFER.NXE the gptes were read under */
		uint32_t cr0_wp : 1;          /* CR0.WP */
		uint32_t smep_andnot_wp : 1;  /* SMEP && !WP: see make_leaf_spte() */
		uint32_t smap_andnot_wp : 1;  /* SMAP && !WP */
		uint32_t pae_root : 1;        /* the 4-entry PDPT page of a PAE/32-bit root */
		uint32_t pkey : 4;            /* direct: the guest leaf's protection key */
		uint32_t pad : 12;
	};
};


struct sp {
	struct list_head link;    /* on mmu_vm.active_list, newest first */
	struct sp *hash_next;     /* chain of mmu_vm.hash[gfn bucket] */
	union sp_role role;       /* what this page shadows */
	gfn_t gfn;                /* guest table (indirect) or first gfn (direct) */
	uint64_t *spt;            /* the 512 sptes (arena memory) */
	hpa_t spt_hpa;            /* where the hardware finds them */
	uint64_t *shadowed;       /* indirect: per spte (gfn << 12 | ACC_*); direct: NULL */
	struct rmap_head parent_ptes; /* sptes pointing at this page */
	uint64_t mmu_valid_gen;   /* VM generation at creation (obsolete if stale) */
	unsigned root_count;      /* references as a root (current or cached) */
	unsigned unsync_children; /* set bits in unsync_child_bitmap */
	unsigned write_flooding_count; /* emulated writes since last use as a table */
	bool unsync;              /* guest may have changed gptes since last sync */
	/*
	 * Shadow pages use the bitmap, TDP tables the rest (a TDP table is never
	 * unsync nor has unsync children), so one costs no more than the other.
	 */
	union {
		uint64_t unsync_child_bitmap[SPTE_ENT_PER_PAGE / 64];
		/*
		 * TDP, NX huge pages: a table made where a huge page could have been
		 * mapped but an instruction fetch forbade it (KVM's
		 * nx_huge_page_disallowed); on mmu_vm.nx_huge_pages, oldest first,
		 * until recovery zaps it through parent_sptep so the range can be
		 * huge again.
		 */
		struct {
			struct list_head nx_link;
			uint64_t *parent_sptep; /* the entry that points at this table */
			bool nx_huge_page_disallowed;
		} tdp;
	};
};

/* How many roots a vCPU keeps cached besides the current one (KVM_MMU_NUM_PREV_ROOTS). */
#define MMU_NUM_PREV_ROOTS 3

struct mmu_root {
	hpa_t hpa;    /* root table the hardware walks, or INVALID_HPA */
	uint64_t pgd; /* guest cr3 (without PCID/flags) it shadows */
	union sp_role role;
};

/* Per-vCPU MMU state (KVM's struct kvm_mmu plus the vCPU's memory caches). */
struct mmu_vcpu {
	struct mmu_vm *vm;
	struct smmu_cpu_state *cpu;     /* the vCPU's architectural state */
	const struct smmu_cpu_model *model;
	unsigned vcpu_id;
	union sp_role ctx_role;         /* context role bits of the current mode */
	enum smmu_paging_mode mode;     /* current guest paging mode */
	struct mmu_root root;           /* current root */
	struct mmu_root prev_roots[MMU_NUM_PREV_ROOTS]; /* most recent first */
	hpa_t lm_root_hpa;              /* special PML4 above the PAE roots */
	uint64_t *lm_root;
	hpa_t pae_root_hpa;             /* special 4-entry PDPT of PAE/32-bit roots */
	uint64_t *pae_root;
	struct mmu_cache pte_list_desc_cache; /* rmap / parent-pte descriptors */
	struct mmu_cache sp_header_cache;     /* struct sp */
	struct mmu_cache shadowed_cache;      /* indirect pages' shadowed arrays */
	unsigned spt_frames_ready;      /* shadow frames reserved for this fault */
	hpa_t spt_frames[8];
	bool tlb_flush_pending;         /* flush this vCPU's TLB before the next access */
	bool need_sync;                 /* a page with unsync children was linked in again */
	/*
	 * The guest walker's paging configuration, rebuilt when CR0, CR4 or
	 * EFER differ from those it was built from (x86/paging.h: it depends
	 * on nothing else but the model), not on every fault.
	 */
	struct x86_paging paging;
	/*
	 * The shadow path of the last fault that ended at a level-1 page
	 * through indirect pages only (fault.c, shadow_walk_to): consecutive faults in
	 * one 2 MiB region under one root follow the same links, so the next
	 * one starts at the level-1 page while table_gen says no nonleaf link
	 * changed and no page was freed.  nr == 0: empty.
	 */
	struct fault_path {
		hpa_t root;
		uint64_t region; /* gva >> 21 */
		uint64_t gen;    /* vm->table_gen when filled */
		unsigned nr;
		struct sp *sp[5]; /* from the walk's first page down to level 1 */
	} last_path;
};

/*
 * A small direct-mapped cache of gfn -> host frame, used under mmu_lock by
 * the fault path (guest walks read up to five gptes per fault, each a
 * memslot search and a host page lookup otherwise).  Emptied when the
 * memslot generation moves and by every MMU-notifier invalidation, and not
 * filled while one is in progress, so it never outlives the translation it
 * caches (see notifier.c).
 */
#define GFN_CACHE_SIZE 256
struct gfn_cache_entry {
	gfn_t gfn;     /* INVALID_GFN: empty */
	pfn_t pfn;
	uint8_t level; /* host mapping level (1..3) */
	bool writable; /* the host lets the MMU map it writable */
	bool write_ok; /* resolved for a write: writes may use the frame */
};

/* Per-VM MMU state. */
struct mmu_vm {
	struct arena *arena;
	struct memslots *slots;
	struct hostmem *hm;
	struct mmu_lock mmu_lock;
	struct sp **hash;               /* by gfn: MMU_HASH_SIZE buckets */
	struct list_head active_list;   /* every sp, newest first */
	uint64_t n_used_mmu_pages;
	uint64_t n_max_mmu_pages;
	uint64_t mmu_valid_gen;         /* bumped by zap-all */
	/*
	 * Bumped (mmu_tables_changed) after a present nonleaf spte or a special
	 * root entry is cleared or replaced and when a table frame is freed:
	 * vCPU paging-structure caches (x86/psc.h) drop entries older than it.
	 */
	uint64_t table_gen;
	uint64_t n_obsolete;            /* obsolete pages not yet freed */
	struct sp ***sp_map;            /* shadow frame pfn -> sp, two levels */
	uint64_t sp_map_dirs;
	struct mmu_slab pte_list_desc_slab, sp_header_slab, shadowed_slab;
	struct mmu_vcpu **vcpus;
	unsigned nr_vcpus;
	bool unsync_enabled;            /* allow unsync pages (else always write-protect) */
	bool audit;                     /* check every invariant after each operation */
	struct mmu_stats stat;
	struct smmu_gpa_ops gpa_ops;    /* guest memory for the vCPU (no mmu_lock held) */
	struct smmu_gpa_ops gpa_ops_locked; /* the same for walks under mmu_lock (cached) */
	struct gfn_cache_entry gfn_cache[GFN_CACHE_SIZE];
	uint64_t gfn_cache_gen;         /* memslot generation the cache is valid for */
	struct mmu_notifier notifier;   /* registered on the host address space */
	struct mmu_invalidate invalidate; /* KVM's mmu_invalidate_seq / _in_progress */
	bool cow_pending;               /* a write met a merged page: break it after unlocking */
	hva_t cow_hva;
	/* Callbacks into the VM (TLB flushes of the software vCPUs). */
	void (*flush_vcpu_tlb)(void *ctx, unsigned vcpu_id);
	void *flush_ctx;
	/*
	 * SMMU_SHORTCUT_* switched on (shadowmmu/shortcuts.h): each shortcut
	 * tests its bit where it is taken; off leaves KVM's ordinary path.
	 */
	uint32_t shortcuts;
	/*
	 * TDP mode (tdp/): the VM's EPT tables.  One root per EPT level is
	 * valid at a time and shared by every vCPU (KVM's tdp_mmu_roots for one
	 * address space); a zap-all replaces it.
	 */
	bool tdp;
	bool ept_ad;        /* EPT A/D flags on: leaves are made accessed, dirty on writes */
	bool gbpages;       /* 1 GiB leaves allowed */
	unsigned tdp_level; /* EPT levels, 4 or 5 */
	struct sp *tdp_root;
	bool nx_huge_pages_on;              /* the iTLB-multihit mitigation (tdp/tdp_nx.c) */
	bool slot_zap_range;                /* slot delete/move zaps the slot's range only */
	struct list_head nx_huge_pages;     /* tables split for execution, oldest first */
	/* The invariant checker of the VM's MMU (shadow/audit.c or tdp/tdp_audit.c). */
	int (*audit_fn)(struct mmu_vm *vm, char *msg, size_t msglen);
};

/* Pages one fault may create (a root plus one per level): kept free below the cap. */
#define MMU_MIN_FREE_PAGES 6

#define MMU_HASH_BITS 12
#define MMU_HASH_SIZE (1u << MMU_HASH_BITS)

/* A guest translation to map with a leaf spte (spte_make.c); gpte.c decodes them. */
struct leaf_request {
	gfn_t gfn;          /* guest frame being mapped */
	unsigned level;     /* spte level */
	unsigned access;    /* ACC_* the guest grants */
	unsigned pkey;      /* guest protection key */
	bool gpte_dirty;    /* guest leaf has D = 1 */
	bool global;
	bool write_fault;   /* the faulting access was a write */
	bool user_fault;    /* ... from CPL 3 */
	bool prefetch;      /* not the faulting access (sync, pte update) */
	struct memslot *slot; /* gfn's memslot if the caller has it, else NULL (looked up) */
};


/*
 * The role bits a guest paging context decides (all but level, quadrant,
 * direct and access): shadow pages made under other CR0.WP, EFER.NXE,
 * SMEP/SMAP-without-WP or gpte size translate gptes differently (mmu.rst,
 * "role.cr0_wp" ...), so they are other pages.
 */
static inline union sp_role mmu_context_role(const struct smmu_cpu_state *s)
{
	union sp_role role = {.word = 0};
	bool wp = s->cr0 & X86_CR0_WP;

	if (!(s->cr0 & X86_CR0_PG))
		return role; /* paging off: one direct context whatever the bits */
	role.cr0_wp = wp;
	role.efer_nx = !!(s->efer & X86_EFER_NXE);
	role.smep_andnot_wp = (s->cr4 & X86_CR4_SMEP) && !wp;
	role.smap_andnot_wp = (s->cr4 & X86_CR4_SMAP) && !wp;
	role.has_4_byte_gpte = !(s->cr4 & X86_CR4_PAE);
	return role;
}

#endif /* SMMU_MMU_INTERNAL_H */
