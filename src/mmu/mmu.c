/*
 * mmu.c - creating and destroying the MMU of a VM and of its vCPUs, the
 * paging-context role, VM-wide zap-all, statistics.
 *
 * Zap-all (KVM commit 5304b8d37c2a, "fast invalidate all shadow pages",
 * seed 001): instead of walking every shadow page under the lock, bump the
 * VM's generation.  Every existing page becomes obsolete at once: lookups
 * skip it and every vCPU drops its roots, so the hardware can no longer
 * reach it.  The obsolete pages are then freed in small batches on later
 * MMU entries (mmu_reclaim_step), so the cost the vCPUs see does not grow
 * with the number of pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"
#include "mmu/mmu.h"
#include "mmu/shadow/shadow.h"
#include "mmu/shadow/root.h"

/* Obsolete pages freed per MMU entry after a zap-all (KVM's BATCH_ZAP_PAGES). */
#define MMU_RECLAIM_BATCH 10

void mmu_init_gpa_ops(struct mmu_vm *vm);
void mmu_release_reserved_frames(struct mmu_vcpu *v);

union sp_role mmu_context_role(const struct smmu_cpu_state *s)
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

/* Default cap on shadow pages: a quarter of the arena's frames (KVM derives its cap from memory size). */
static uint64_t default_max_pages(struct arena *a)
{
	uint64_t n = arena_nr_frames(a) / 4;

	return n < 64 ? 64 : n;
}

int mmu_vm_create(const struct mmu_vm_config *cfg, struct mmu_vm **out)
{
	struct mmu_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return -ENOMEM;
	vm->arena = cfg->arena;
	vm->slots = cfg->slots;
	vm->hm = cfg->hm;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->n_max_mmu_pages = cfg->n_max_mmu_pages ? cfg->n_max_mmu_pages : default_max_pages(vm->arena);
	/*
	 * Floor: a fault's worth of pages plus every vCPU's current roots (four
	 * page directories for a PAE or 32-bit guest), which are never recycled;
	 * KVM's floor is 64 pages (KVM_MIN_ALLOC_MMU_PAGES).
	 */
	if (vm->n_max_mmu_pages < MMU_MIN_FREE_PAGES + 4 * (uint64_t)vm->nr_vcpus + 1)
		vm->n_max_mmu_pages = MMU_MIN_FREE_PAGES + 4 * (uint64_t)vm->nr_vcpus + 1;
	vm->unsync_enabled = cfg->unsync;
	vm->audit = cfg->audit;
	vm->flush_vcpu_tlb = cfg->flush_vcpu_tlb;
	vm->flush_ctx = cfg->flush_ctx;
	vm->shortcuts = cfg->shortcuts;
	vm->hash = calloc(MMU_HASH_SIZE, sizeof(*vm->hash));
	vm->vcpus = calloc(cfg->nr_vcpus ? cfg->nr_vcpus : 1, sizeof(*vm->vcpus));
	if (!vm->hash || !vm->vcpus || mmu_vm_sp_map_init(vm)) {
		mmu_vm_destroy(vm);
		return -ENOMEM;
	}
	list_init(&vm->active_list);
	mmu_lock_init(&vm->mmu_lock);
	pte_list_slab_init(&vm->pte_list_desc_slab);
	mmu_slab_init(&vm->sp_header_slab, "mmu_page_header", sizeof(struct sp));
	mmu_slab_init(&vm->shadowed_slab, "shadowed_translation", SPTE_ENT_PER_PAGE * sizeof(uint64_t));
	mmu_init_gpa_ops(vm);
	if (vm->hm && mmu_notifier_attach(vm)) {
		mmu_vm_destroy(vm);
		return -ENOMEM;
	}
	*out = vm;
	return 0;
}

/* Free every shadow page (VM teardown, synchronous zap-all). */
static void zap_everything(struct mmu_vm *vm)
{
	struct list_head invalid_list;

	list_init(&invalid_list);
	while (!list_empty(&vm->active_list)) {
		struct sp *sp = list_entry(vm->active_list.next, struct sp, link);

		sp->root_count = 0;
		mmu_prepare_zap_page(vm, sp, &invalid_list);
		mmu_commit_zap_page(vm, &invalid_list);
	}
	vm->n_obsolete = 0;
}

void mmu_vm_destroy(struct mmu_vm *vm)
{
	if (!vm)
		return;
	if (vm->notifier.ops)
		mmu_notifier_detach(vm);
	if (vm->hash)
		zap_everything(vm);
	mmu_vm_sp_map_destroy(vm);
	free(vm->hash);
	free(vm->vcpus);
	free(vm);
}

static int alloc_special_root(struct mmu_vcpu *v, hpa_t *hpa, uint64_t **ptr)
{
	int r = arena_alloc(v->vm->arena, 0, ARENA_USE_SHADOW, hpa);

	if (r)
		return r;
	*ptr = arena_hpa_to_ptr(v->vm->arena, *hpa, PAGE_SIZE);
	return 0;
}

int mmu_vcpu_create(struct mmu_vm *vm, unsigned id, struct smmu_cpu_state *cpu,
                    const struct smmu_cpu_model *model, struct mmu_vcpu **out)
{
	struct mmu_vcpu *v;

	if (id >= vm->nr_vcpus || vm->vcpus[id])
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->cpu = cpu;
	v->model = model;
	v->vcpu_id = id;
	v->lm_root_hpa = v->pae_root_hpa = INVALID_HPA;
	v->root.hpa = INVALID_HPA;
	for (unsigned i = 0; i < MMU_NUM_PREV_ROOTS; i++)
		v->prev_roots[i].hpa = INVALID_HPA;
	mmu_cache_init(&v->pte_list_desc_cache, &vm->pte_list_desc_slab);
	mmu_cache_init(&v->sp_header_cache, &vm->sp_header_slab);
	mmu_cache_init(&v->shadowed_cache, &vm->shadowed_slab);
	if (alloc_special_root(v, &v->lm_root_hpa, &v->lm_root) ||
	    alloc_special_root(v, &v->pae_root_hpa, &v->pae_root)) {
		vm->vcpus[id] = v;
		mmu_vcpu_destroy(v);
		return -ENOMEM;
	}
	v->mode = smmu_paging_mode(cpu);
	v->ctx_role = mmu_context_role(cpu);
	vm->vcpus[id] = v;
	*out = v;
	return 0;
}

void mmu_vcpu_destroy(struct mmu_vcpu *v)
{
	struct mmu_vm *vm;

	if (!v)
		return;
	vm = v->vm;
	mmu_lock_acquire(&vm->mmu_lock);
	mmu_free_roots(v, true);
	mmu_lock_release(&vm->mmu_lock);
	mmu_release_reserved_frames(v);
	mmu_cache_free_all(&v->pte_list_desc_cache);
	mmu_cache_free_all(&v->sp_header_cache);
	mmu_cache_free_all(&v->shadowed_cache);
	if (v->lm_root_hpa != INVALID_HPA)
		arena_free(vm->arena, v->lm_root_hpa, 0, ARENA_USE_SHADOW);
	if (v->pae_root_hpa != INVALID_HPA)
		arena_free(vm->arena, v->pae_root_hpa, 0, ARENA_USE_SHADOW);
	vm->vcpus[v->vcpu_id] = NULL;
	free(v);
}

void mmu_reclaim_step(struct mmu_vm *vm)
{
	if (vm->n_obsolete)
		mmu_zap_obsolete_pages(vm, MMU_RECLAIM_BATCH);
}

/* Fast zap-all: O(vCPUs) now, obsolete pages freed in batches later. */
void mmu_zap_all_fast(struct mmu_vm *vm)
{
	mmu_lock_acquire(&vm->mmu_lock);
	vm->stat.zap_all++;
	vm->mmu_valid_gen++;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			mmu_free_roots(vm->vcpus[i], true);
	/* Zapped roots died with their last reference: every page left is obsolete. */
	vm->n_obsolete = vm->n_used_mmu_pages;
	mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

/* Zap-all and free everything now (before a memslot is deleted or moved). */
void mmu_zap_all_sync(struct mmu_vm *vm)
{
	mmu_zap_all_fast(vm);
	mmu_lock_acquire(&vm->mmu_lock);
	mmu_zap_obsolete_pages(vm, 0);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

void mmu_get_stats(struct mmu_vm *vm, struct mmu_stats *st)
{
	mmu_lock_acquire(&vm->mmu_lock);
	*st = vm->stat;
	mmu_lock_release(&vm->mmu_lock);
}

int mmu_check(struct mmu_vm *vm, char *msg, size_t msglen)
{
	int r;

	mmu_lock_acquire(&vm->mmu_lock);
	r = mmu_audit(vm, msg, msglen);
	mmu_lock_release(&vm->mmu_lock);
	return r;
}
