/*
 * mmu_vm.c - the MMU behind mmu.h: creating and destroying the MMU of a VM and
 * of its vCPUs, what the VM may ask of it (the current root, the paging
 * context, memslot changes, statistics, the audit).  The events themselves
 * are handled by the shadow MMU's files (shadow/: fault.c, root.c,
 * pte_write.c, zap_all.c, dirty_log.c, notifier.c); this file is the one
 * place that knows them all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"
#include "mmu/mmu.h"
#include "mmu/mmu_notifier.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/dirty_log.h"
#include "mmu/shadow/root.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/zap.h"
#include "mmu/shadow/shadow.h"
#include "mmu/slot_iface.h"
#include "mmu/tdp/tdp.h"

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
	vm->tdp = cfg->tdp;
	vm->ept_ad = cfg->ept_ad;
	vm->gbpages = cfg->gbpages;
	vm->tdp_level = cfg->tdp_level == 5 ? 5 : 4;
	vm->nx_huge_pages_on = cfg->tdp && cfg->nx_huge_pages;
	vm->slot_zap_range = cfg->tdp && cfg->slot_zap_range;
	vm->audit_fn = vm->tdp ? tdp_audit : mmu_audit;
	vm->hash = calloc(MMU_HASH_SIZE, sizeof(*vm->hash));
	vm->vcpus = calloc(cfg->nr_vcpus ? cfg->nr_vcpus : 1, sizeof(*vm->vcpus));
	if (!vm->hash || !vm->vcpus || mmu_vm_sp_map_init(vm)) {
		mmu_vm_destroy(vm);
		return -ENOMEM;
	}
	list_init(&vm->active_list);
	list_init(&vm->nx_huge_pages);
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
	if (vm->tdp && vm->vcpus)
		tdp_zap_all(vm);
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
	if (vm->tdp)
		tdp_put_root(v);
	else
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
	r = vm->audit_fn(vm, msg, msglen);
	mmu_lock_release(&vm->mmu_lock);
	return r;
}

void mmu_get_mem_stats(struct mmu_vm *vm, struct mmu_mem_stats *out)
{
	struct mmu_slab_stats ss;

	out->shadow_pages = vm->n_used_mmu_pages;
	mmu_slab_get_stats(&vm->sp_header_slab, &ss);
	out->bytes_sp_headers = ss.bytes_in_use;
	mmu_slab_get_stats(&vm->shadowed_slab, &ss);
	out->bytes_shadowed = ss.bytes_in_use;
	mmu_slab_get_stats(&vm->pte_list_desc_slab, &ss);
	out->bytes_rmap_desc = ss.bytes_in_use;
}

const struct smmu_gpa_ops *mmu_gpa_ops(struct mmu_vm *vm)
{
	return &vm->gpa_ops;
}

const uint64_t *mmu_table_gen(struct mmu_vm *vm)
{
	return &vm->table_gen;
}

hpa_t mmu_root_hpa(const struct mmu_vcpu *v)
{
	return v->root.hpa;
}

unsigned mmu_root_level(const struct mmu_vcpu *v)
{
	if (v->vm->tdp)
		return v->vm->tdp_level;
	return v->mode == SMMU_PAGING_5LEVEL ? 5 : 4;
}

bool mmu_context_stale(const struct mmu_vcpu *v)
{
	const struct smmu_cpu_state *s = v->cpu;

	if (smmu_paging_mode(s) != v->mode || mmu_context_role(s).word != v->ctx_role.word)
		return true;
	/* PAE: cr0/cr4 writes may have reloaded the PDPTE registers. */
	return v->mode == SMMU_PAGING_PAE;
}

/*
 * KVM zaps every translation through a slot before it goes away or moves:
 * with its KVM_X86_QUIRK_SLOT_ZAP_ALL (on by default) by zapping everything,
 * without it (slot_zap_range, TDP here) only the leaves over the slot's gfns
 * (kvm_mmu_zap_memslot); MMIO sptes elsewhere are stale by generation.
 */
void mmu_memslot_prepare(struct mmu_vm *vm, struct memslot *old, enum mmu_slot_change change)
{
	gfn_t base;
	uint64_t npages;

	if (change != MMU_SLOT_DELETE && change != MMU_SLOT_MOVE)
		return;
	if (!vm->slot_zap_range) {
		mmu_zap_all_sync(vm);
		return;
	}
	mmu_slot_gfn_range(old, &base, &npages);
	mmu_lock_acquire(&vm->mmu_lock);
	tdp_zap_gfn_range(vm, base, base + npages);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

void mmu_memslot_changed(struct mmu_vm *vm, struct memslot *new_slot, bool was_logging,
                         enum mmu_slot_change change)
{
	if (change != MMU_SLOT_FLAGS_ONLY || was_logging || !mmu_slot_dirty_logging(new_slot))
		return;
	mmu_lock_acquire(&vm->mmu_lock);
	if (vm->tdp)
		tdp_write_protect_slot(vm, new_slot);
	else
		mmu_slot_write_protect(vm, new_slot);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

/* ---- events: the VM's MMU mode decides who handles them ----------------- */
enum mmu_fault_action mmu_page_fault(struct mmu_vcpu *v, struct mmu_fault *f)
{
	return v->vm->tdp ? tdp_page_fault(v, f) : shadow_page_fault(v, f);
}

hpa_t mmu_current_root(struct mmu_vcpu *v)
{
	return v->vm->tdp ? tdp_current_root(v) : shadow_current_root(v);
}

/* With TDP the guest's own cr3, INVLPG and TLB flushes never reach the MMU (docs/tdp.md). */
void mmu_cr3_changed(struct mmu_vcpu *v, bool noflush)
{
	if (!v->vm->tdp)
		shadow_cr3_changed(v, noflush);
}

void mmu_context_changed(struct mmu_vcpu *v)
{
	if (!v->vm->tdp)
		shadow_context_changed(v);
}

void mmu_invlpg(struct mmu_vcpu *v, gva_t gva)
{
	if (!v->vm->tdp)
		shadow_invlpg(v, gva);
}

void mmu_guest_tlb_flush(struct mmu_vcpu *v, bool all_roots)
{
	if (!v->vm->tdp)
		shadow_guest_tlb_flush(v, all_roots);
}

void mmu_zap_all_fast(struct mmu_vm *vm)
{
	if (vm->tdp)
		tdp_zap_all_fast(vm);
	else
		shadow_zap_all_fast(vm);
}

void mmu_zap_all_sync(struct mmu_vm *vm)
{
	if (vm->tdp)
		tdp_zap_all(vm);
	else
		shadow_zap_all_sync(vm);
}

int mmu_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out)
{
	return vm->tdp ? tdp_get_dirty_log(vm, id, out) : shadow_get_dirty_log(vm, id, out);
}

unsigned mmu_recover_nx_huge_pages(struct mmu_vm *vm, unsigned ratio)
{
	return vm->tdp ? tdp_recover_nx_huge_pages(vm, ratio) : 0;
}

int mmu_write_dot(struct mmu_vm *vm, FILE *out)
{
	return vm->tdp ? tdp_write_dot(vm, out) : shadow_write_dot(vm, out);
}
