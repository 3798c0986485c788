/*
 * sp.c - shadow page life cycle: allocation from the vCPU's caches, the
 * gfn hash, the active list, and the map from a shadow table's frame back
 * to its header (KVM keeps that in page->private; here a two-level array
 * indexed by pfn, 512 pfns per leaf array).
 *
 * Invariants: every sp is on active_list and in the hash until sp_free();
 * sp_map[pfn] is the sp whose spt lives at pfn, NULL for any other frame;
 * indirect pages have a `shadowed` array, direct pages never do (KVM
 * commit 2032a93d66fa: their gfns are computed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"
#include "mmu/shadow/sp.h"
#include "mmu/spte_ops.h"

#define SP_MAP_SHIFT   9
#define SP_MAP_PER_DIR (1u << SP_MAP_SHIFT)

/* Worst case per fault: one page per level plus a root (checked in sp_alloc). */
#define MMU_MIN_PAGES_PER_FAULT 6

int mmu_vm_sp_map_init(struct mmu_vm *vm)
{
	vm->sp_map_dirs = (arena_nr_frames(vm->arena) + SP_MAP_PER_DIR - 1) >> SP_MAP_SHIFT;
	vm->sp_map = calloc(vm->sp_map_dirs ? vm->sp_map_dirs : 1, sizeof(*vm->sp_map));
	return vm->sp_map ? 0 : -ENOMEM;
}

void mmu_vm_sp_map_destroy(struct mmu_vm *vm)
{
	for (uint64_t i = 0; i < vm->sp_map_dirs; i++)
		free(vm->sp_map[i]);
	free(vm->sp_map);
	vm->sp_map = NULL;
}

/*
 * The leaf arrays of sp_map are created on demand when a vCPU tops up its
 * shadow frames, outside mmu_lock, so several threads may race to create
 * the same one: it is installed with a compare-and-exchange and read with
 * an atomic load.  The slots themselves change only under mmu_lock.
 */
static struct sp **sp_map_dir(const struct mmu_vm *vm, pfn_t pfn)
{
	if (pfn >> SP_MAP_SHIFT >= vm->sp_map_dirs)
		return NULL;
	return __atomic_load_n(&vm->sp_map[pfn >> SP_MAP_SHIFT], __ATOMIC_ACQUIRE);
}

static struct sp **sp_map_slot(const struct mmu_vm *vm, pfn_t pfn)
{
	struct sp **dir = sp_map_dir(vm, pfn);

	return dir ? &dir[pfn & (SP_MAP_PER_DIR - 1)] : NULL;
}

/* Make sure pfn has a slot; 0, -EINVAL (outside the arena) or -ENOMEM. */
static int sp_map_ensure(struct mmu_vm *vm, pfn_t pfn)
{
	struct sp **dir, **expect = NULL;

	if (pfn >> SP_MAP_SHIFT >= vm->sp_map_dirs)
		return -EINVAL;
	if (sp_map_dir(vm, pfn))
		return 0;
	dir = calloc(SP_MAP_PER_DIR, sizeof(struct sp *));
	if (!dir)
		return -ENOMEM;
	if (!__atomic_compare_exchange_n(&vm->sp_map[pfn >> SP_MAP_SHIFT], &expect, dir, false,
	                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		free(dir); /* another vCPU installed it first */
	return 0;
}

/* The shadow page whose table is at hpa, or NULL if hpa is no shadow table. */
struct sp *sp_from_hpa(const struct mmu_vm *vm, hpa_t hpa)
{
	struct sp **slot = sp_map_slot(vm, hpa >> PAGE_SHIFT);

	return slot ? *slot : NULL;
}

hpa_t sptep_to_hpa(const struct mmu_vm *vm, const uint64_t *sptep)
{
	return (hpa_t)((const uint8_t *)sptep - vm->arena->base);
}

struct sp *sptep_to_sp(const struct mmu_vm *vm, const uint64_t *sptep)
{
	return sp_from_hpa(vm, sptep_to_hpa(vm, sptep));
}

unsigned sptep_index(const struct sp *sp, const uint64_t *sptep)
{
	return (unsigned)(sptep - sp->spt);
}

uint64_t *hpa_to_sptes(const struct mmu_vm *vm, hpa_t hpa)
{
	return arena_hpa_to_ptr(vm->arena, hpa & PAGE_MASK, PAGE_SIZE);
}

bool sp_is_obsolete(const struct mmu_vm *vm, const struct sp *sp)
{
	return sp->mmu_valid_gen != vm->mmu_valid_gen;
}

/* The gfn entry `index` maps: recorded for indirect pages, computed for direct ones. */
gfn_t sp_get_gfn(const struct sp *sp, unsigned index)
{
	if (sp->role.direct)
		return sp->gfn + ((gfn_t)index << (9 * (sp->role.level - 1)));
	return sp->shadowed[index] >> PAGE_SHIFT;
}

unsigned sp_get_access(const struct sp *sp, unsigned index)
{
	if (sp->role.direct)
		return sp->role.access;
	return (unsigned)(sp->shadowed[index] & ACC_ALL);
}

void sp_set_shadowed(struct sp *sp, unsigned index, gfn_t gfn, unsigned access)
{
	if (sp->role.direct) {
		SMMU_ASSERT(gfn == sp_get_gfn(sp, index));
		return;
	}
	sp->shadowed[index] = (gfn << PAGE_SHIFT) | (access & ACC_ALL);
}

static unsigned hash_gfn(gfn_t gfn)
{
	return (unsigned)((gfn * 0x9e3779b97f4a7c15ull) >> (64 - MMU_HASH_BITS));
}

struct sp *sp_hash_first(const struct mmu_vm *vm, gfn_t gfn)
{
	return vm->hash[hash_gfn(gfn)];
}

static void sp_hash_add(struct mmu_vm *vm, struct sp *sp)
{
	struct sp **bucket = &vm->hash[hash_gfn(sp->gfn)];

	sp->hash_next = *bucket;
	*bucket = sp;
}

void sp_hash_del(struct mmu_vm *vm, struct sp *sp)
{
	struct sp **pp = &vm->hash[hash_gfn(sp->gfn)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == sp) {
			*pp = sp->hash_next;
			sp->hash_next = NULL;
			return;
		}
	}
}

/* Under mmu_lock, for a pfn whose slot exists (sp_map_ensure in the top-up). */
static void sp_map_set(struct mmu_vm *vm, pfn_t pfn, struct sp *sp)
{
	struct sp **slot = sp_map_slot(vm, pfn);

	SMMU_ASSERT(slot);
	if (slot)
		*slot = sp;
}

/*
 * Fill the vCPU's caches for the worst case of one fault, before mmu_lock
 * is taken (KVM's mmu_topup_memory_caches): rmap descriptors, sp headers,
 * shadowed arrays and shadow-table frames.  Under the lock nothing fails.
 */
#define MMU_MIN_PTE_LIST_DESCS (1 + SMMU_MAX_LEVELS * 2)

_Static_assert(MMU_MIN_PTE_LIST_DESCS <= MMU_CACHE_CAPACITY &&
                   MMU_MIN_PAGES_PER_FAULT <= MMU_CACHE_CAPACITY,
               "mmu_cache_topup would reject these minimums");

/* Every cache already holds its minimum: what mmu_topup_caches finds on most calls. */
static bool caches_topped_up(const struct mmu_vcpu *v)
{
	return v->pte_list_desc_cache.nobjs >= MMU_MIN_PTE_LIST_DESCS &&
	       v->sp_header_cache.nobjs >= MMU_MIN_PAGES_PER_FAULT &&
	       v->shadowed_cache.nobjs >= MMU_MIN_PAGES_PER_FAULT &&
	       v->spt_frames_ready >= MMU_MIN_PAGES_PER_FAULT;
}

int mmu_topup_caches(struct mmu_vcpu *v)
{
	struct mmu_vm *vm = v->vm;
	int r;

	/* The fast answer (every fault, cr3 switch and flush calls this), same as the calls below.
	 */
	if (likely(caches_topped_up(v)))
		return 0;
	r = mmu_cache_topup(&v->pte_list_desc_cache, MMU_MIN_PTE_LIST_DESCS);
	if (!r)
		r = mmu_cache_topup(&v->sp_header_cache, MMU_MIN_PAGES_PER_FAULT);
	if (!r)
		r = mmu_cache_topup(&v->shadowed_cache, MMU_MIN_PAGES_PER_FAULT);
	while (!r && v->spt_frames_ready < MMU_MIN_PAGES_PER_FAULT) {
		hpa_t hpa;

		r = arena_alloc(vm->arena, 0, ARENA_USE_SHADOW, &hpa);
		if (!r) {
			/* Make the frame's slot now: under mmu_lock sp_map_set must not fail. */
			r = sp_map_ensure(vm, hpa >> PAGE_SHIFT);
			if (r)
				arena_free(vm->arena, hpa, 0, ARENA_USE_SHADOW);
			else
				v->spt_frames[v->spt_frames_ready++] = hpa;
		}
	}
	return r;
}

/* Give back the frames a vCPU reserved (teardown). */
void mmu_release_reserved_frames(struct mmu_vcpu *v);
void mmu_release_reserved_frames(struct mmu_vcpu *v)
{
	while (v->spt_frames_ready)
		arena_free(v->vm->arena, v->spt_frames[--v->spt_frames_ready], 0, ARENA_USE_SHADOW);
}

/*
 * A new, empty shadow page for (gfn, role), on the hash and at the head of
 * the active list.  Draws only on the vCPU's topped-up caches.
 */
struct sp *sp_alloc(struct mmu_vcpu *v, gfn_t gfn, union sp_role role)
{
	struct mmu_vm *vm = v->vm;
	struct sp *sp = mmu_cache_alloc(&v->sp_header_cache);

	SMMU_ASSERT(v->spt_frames_ready > 0);
	sp->spt_hpa = v->spt_frames[--v->spt_frames_ready];
	sp->spt = hpa_to_sptes(vm, sp->spt_hpa);
	if (!role.direct)
		sp->shadowed = mmu_cache_alloc(&v->shadowed_cache);
	sp->gfn = gfn;
	sp->role = role;
	sp->mmu_valid_gen = vm->mmu_valid_gen;
	list_init(&sp->link);
	list_add(&sp->link, &vm->active_list);
	sp_hash_add(vm, sp);
	sp_map_set(vm, sp->spt_hpa >> PAGE_SHIFT, sp); /* the slot exists: made in the top-up */
	vm->n_used_mmu_pages++;
	return sp;
}

/* Free a page that is off the hash, has no parents, no children and no root refs. */
void sp_free(struct mmu_vm *vm, struct sp *sp)
{
	SMMU_ASSERT(!sp->root_count && !sp->parent_ptes.val && !sp->unsync);
	list_del(&sp->link);
	sp_map_set(vm, sp->spt_hpa >> PAGE_SHIFT, NULL);
	mmu_tables_changed(vm); /* no cached walk may name this frame again */
	/* The arena zeroes frames as they are freed: no memset of the table here. */
	arena_free(vm->arena, sp->spt_hpa, 0, ARENA_USE_SHADOW);
	if (sp->shadowed)
		mmu_slab_free(&vm->shadowed_slab, sp->shadowed);
	mmu_slab_free(&vm->sp_header_slab, sp);
	vm->n_used_mmu_pages--;
}
