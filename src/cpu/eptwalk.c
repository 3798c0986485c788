/*
 * eptwalk.c - the EPT walker: one gpa through the extended page tables;
 * see eptwalk.h for the contract.
 *
 * Rules followed (Intel SDM Vol. 3C):
 *  - 29.3.2: 4- or 5-level walk from the EPTP, 9 gpa bits per level; bit 7
 *    of a level-2 / level-3 entry maps a 2 MiB / 1 GiB page.
 *  - 29.3.3.1: a misconfiguration (W without R, reserved bits, a bad
 *    memory type) is reported as soon as the entry is read, before any
 *    violation the rights below it would cause.
 *  - 29.3.3.2: an entry with R = W = X = 0 is a violation; so is an access
 *    the AND of the entries' rights denies (read: R, write: W, fetch: X).
 *  - 29.3.5: with A/D enabled, A in every entry used, D in the leaf of a
 *    write; set here only for a walk that translates.
 */
#include "cpu/eptwalk.h"

static enum hwwalk_exit ept_stop(struct eptwalk_result *r, enum hwwalk_exit why, unsigned level,
                                 uint64_t rights, uint64_t entry, uint64_t *entryp,
                                 unsigned refs)
{
	*r = (struct eptwalk_result){.exit = why,
	                             .hpa = INVALID_HPA,
	                             .rights = rights & EPT_RWX,
	                             .level = level,
	                             .entry = entry,
	                             .entryp = entryp,
	                             .refs = refs};
	return why;
}

/* The right an access needs: R for reads, W for writes, X for fetches. */
static bool ept_allows(uint64_t rights, enum smmu_access_type access)
{
	uint64_t need = access == SMMU_ACCESS_WRITE   ? EPT_W
	                : access == SMMU_ACCESS_FETCH ? EPT_X
	                                              : EPT_R;

	return rights & need;
}

/* SDM 29.3.5: A from `top` down to the leaf, D in the leaf of a write, only where clear. */
static void ept_set_ad(uint64_t **entryp, unsigned top, unsigned leaf_level, bool write)
{
	for (unsigned level = top; level >= leaf_level; level--) {
		uint64_t want = (write && level == leaf_level) ? EPT_A | EPT_D : EPT_A;

		if ((__atomic_load_n(entryp[level - 1], __ATOMIC_RELAXED) & want) != want)
			__atomic_fetch_or(entryp[level - 1], want, __ATOMIC_RELAXED);
	}
}

/* The next table an entry names, or NULL when it lies outside the arena. */
static uint64_t *ept_table(const struct eptwalk_env *env, hpa_t hpa)
{
	return arena_hpa_to_ptr(env->arena, hpa, PAGE_SIZE);
}

/* The leaf `e` is found at `level`: rights, frame, A/D. */
static enum hwwalk_exit ept_finish(const struct eptwalk_env *env, uint64_t gpa,
                                   enum smmu_access_type access, uint64_t **entryp, unsigned top,
                                   unsigned level, uint64_t e, uint64_t rights,
                                   uint64_t rights_above, unsigned refs, struct eptwalk_result *r)
{
	uint64_t *p = entryp[level - 1];
	uint64_t size = 1ull << (PAGE_SHIFT + 9 * (level - 1));
	hpa_t hpa = (ept_to_hpa(e) & ~(size - 1)) | (gpa & (size - 1));

	if (!ept_allows(rights, access))
		return ept_stop(r, HWWALK_EPT_VIOLATION, level, rights, e, p, refs);
	if (unlikely(!arena_hpa_to_ptr(env->arena, hpa & PAGE_MASK, PAGE_SIZE)))
		return ept_stop(r, HWWALK_BAD_HPA, level, rights, e, p, refs);
	if (env->ad) {
		ept_set_ad(entryp, top, level, access == SMMU_ACCESS_WRITE);
		e = __atomic_load_n(p, __ATOMIC_RELAXED);
	}
	*r = (struct eptwalk_result){.exit = HWWALK_OK,
	                             .hpa = hpa,
	                             .rights = rights & EPT_RWX,
	                             .level = level,
	                             .entry = e,
	                             .entryp = p,
	                             .refs = refs,
	                             .dirty = e & EPT_D,
	                             .rights_above = rights_above & EPT_RWX};
	return HWWALK_OK;
}

/* Down from `table` at `level`, with the rights of the entries above ANDed in `rights`. */
static enum hwwalk_exit ept_descend(const struct eptwalk_env *env, uint64_t gpa,
                                    enum smmu_access_type access, uint64_t *table, unsigned level,
                                    uint64_t rights, struct eptwalk_result *r)
{
	uint64_t *entryp[SMMU_MAX_LEVELS];
	uint64_t e, above = rights;
	unsigned top = level, refs = 0;

	for (;; level--) {
		uint64_t *p = entryp[level - 1] = &table[ept_index(gpa, level)];

		e = __atomic_load_n(p, __ATOMIC_RELAXED);
		refs++;
		if (!is_ept_present(e))
			return ept_stop(r, HWWALK_EPT_VIOLATION, level, 0, e, p, refs);
		if (is_ept_misconfig(e, level))
			return ept_stop(r, HWWALK_EPT_MISCONFIG, level, rights & e, e, p, refs);
		above = rights;
		rights &= e;
		if (is_ept_leaf(e, level))
			break;
		table = ept_table(env, ept_to_hpa(e));
		if (unlikely(!table))
			return ept_stop(r, HWWALK_BAD_HPA, level, rights, e, p, refs);
	}
	return ept_finish(env, gpa, access, entryp, top, level, e, rights, above, refs, r);
}

enum hwwalk_exit eptwalk(const struct eptwalk_env *env, uint64_t gpa, enum smmu_access_type access,
                         struct eptwalk_result *r)
{
	uint64_t *table;

	SMMU_ASSERT(env->level == 4 || env->level == 5);
	if (unlikely(env->root == INVALID_HPA))
		return ept_stop(r, HWWALK_NO_ROOT, env->level, 0, 0, NULL, 0);
	if (unlikely(gpa >> (PAGE_SHIFT + 9 * env->level))) /* beyond what the EPT maps */
		return ept_stop(r, HWWALK_EPT_VIOLATION, env->level, 0, 0, NULL, 0);
	table = ept_table(env, env->root);
	if (unlikely(!table))
		return ept_stop(r, HWWALK_BAD_HPA, env->level, 0, 0, NULL, 0);
	return ept_descend(env, gpa, access, table, env->level, EPT_RWX, r);
}

enum hwwalk_exit eptwalk_from_table(const struct eptwalk_env *env, uint64_t gpa,
                                    enum smmu_access_type access, uint64_t *table,
                                    uint64_t rights_above, struct eptwalk_result *r)
{
	return ept_descend(env, gpa, access, table, 1, rights_above, r);
}
