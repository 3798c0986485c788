/*
 * tlb.c - the software vCPU's TLB: see tlb.h for the geometry, the
 * fractured large-page scheme and the tagging rules (SDM Vol. 3A 4.10).
 *
 * Invariant: nr_large counts exactly the valid entries with page_shift >
 * 12; every store to an entry goes through entry_set() or entry_clear();
 * a set holding a valid entry has its `occupied` bit set (the converse need
 * not hold).
 */
#include "cpu/tlb.h"

#include <errno.h>
#include <stdlib.h>

static bool is_pow2(unsigned x)
{
	return x && !(x & (x - 1));
}

static bool entry_valid(const struct tlb_entry *e)
{
	return e->vpn != TLB_VPN_INVALID;
}

static void entry_clear(struct tlb *tlb, struct tlb_entry *e)
{
	if (entry_valid(e) && e->page_shift > PAGE_SHIFT)
		tlb->nr_large--;
	e->vpn = TLB_VPN_INVALID;
}

static void entry_set(struct tlb *tlb, struct tlb_entry *e, uint64_t vpn, unsigned pcid,
                      const struct tlb_fill_info *info)
{
	entry_clear(tlb, e);
	/* Field by field: every field is written, and no temporary is built. */
	e->vpn = vpn;
	e->hpa = info->hpa & PAGE_MASK;
	e->pcid = (uint16_t)pcid;
	e->flags = (uint8_t)(info->global * TLB_F_GLOBAL | info->dirty * TLB_F_DIRTY);
	e->access = (uint8_t)info->access;
	e->pkey = (uint8_t)info->pkey;
	e->page_shift = (uint8_t)info->page_shift;
	if (info->page_shift > PAGE_SHIFT)
		tlb->nr_large++;
}

int tlb_init(struct tlb *tlb, unsigned sets, unsigned ways)
{
	size_t n = (size_t)sets * ways;

	*tlb = (struct tlb){0};
	if (!is_pow2(sets) || !is_pow2(ways) || sets > 4096 || ways > 64)
		return -EINVAL;
	tlb->entries = malloc(n * sizeof(*tlb->entries));
	tlb->victim = calloc(sets, 1);
	tlb->occupied = calloc((sets + 63) / 64, sizeof(uint64_t));
	if (!tlb->entries || !tlb->victim || !tlb->occupied) {
		tlb_destroy(tlb);
		return -ENOMEM;
	}
	tlb->sets = sets;
	tlb->ways = ways;
	tlb->set_mask = sets - 1;
	tlb->miss_vpn = TLB_VPN_INVALID;
	for (size_t i = 0; i < n; i++)
		tlb->entries[i].vpn = TLB_VPN_INVALID;
	return 0;
}

void tlb_destroy(struct tlb *tlb)
{
	free(tlb->entries);
	free(tlb->victim);
	free(tlb->occupied);
	*tlb = (struct tlb){0};
}

static struct tlb_entry *set_of(struct tlb *tlb, uint64_t vpn)
{
	return &tlb->entries[(vpn & tlb->set_mask) * tlb->ways];
}

/*
 * The way to fill in set number `s`: a matching entry, else a free one,
 * else round robin.  One pass; the vpn compare comes first because it
 * rejects almost every way.
 */
static struct tlb_entry *fill_slot(struct tlb *tlb, uint64_t s, uint64_t vpn, unsigned pcid)
{
	struct tlb_entry *set = &tlb->entries[s * tlb->ways], *free_way = NULL;
	uint8_t *victim = &tlb->victim[s];

	/* Right after a missed lookup of this page, its scan stands (see tlb.h). */
	if (vpn == tlb->miss_vpn && pcid == tlb->miss_pcid) {
		if (tlb->miss_free && tlb->miss_free->vpn == TLB_VPN_INVALID)
			return tlb->miss_free;
		goto evict;
	}
	for (unsigned way = 0; way < tlb->ways; way++) {
		if (set[way].vpn == vpn && tlb_entry_matches(&set[way], vpn, pcid))
			return &set[way];
		if (set[way].vpn == TLB_VPN_INVALID && !free_way)
			free_way = &set[way];
	}
	if (free_way)
		return free_way;
evict:
	tlb->stats.evictions++;
	*victim = (uint8_t)((*victim + 1) & (tlb->ways - 1));
	return &set[*victim];
}

void tlb_fill(struct tlb *tlb, gva_t gva, unsigned pcid, const struct tlb_fill_info *info)
{
	uint64_t vpn = gva >> PAGE_SHIFT, s = vpn & tlb->set_mask;
	struct tlb_entry *e = fill_slot(tlb, s, vpn, pcid);
	bool evicts = e->vpn != TLB_VPN_INVALID && e->vpn != vpn;

	/* 22: a 4 MiB page of 32-bit paging, which TDP mode caches from the guest's own walk. */
	SMMU_ASSERT(info->page_shift == 12 || info->page_shift == 21 || info->page_shift == 22 ||
	            info->page_shift == 30);
	/* A moving average of the fills that had to evict, in 1/256ths (see tlb.h). */
	tlb->pressure = tlb->pressure - (tlb->pressure >> 4) + (evicts ? 16 : 0);
	entry_set(tlb, e, vpn, pcid, info);
	tlb->miss_vpn = TLB_VPN_INVALID;
	tlb->occupied[s / 64] |= 1ull << (s % 64);
	tlb->stats.fills++;
}

void tlb_drop(struct tlb *tlb, struct tlb_entry *e)
{
	entry_clear(tlb, e);
}

static bool entry_in_pcid(const struct tlb_entry *e, unsigned pcid)
{
	return (e->flags & TLB_F_GLOBAL) || e->pcid == pcid;
}

/* Drop the large-page entries of pcid (or global) whose page contains gva. */
static void invlpg_large(struct tlb *tlb, gva_t gva, unsigned pcid)
{
	size_t n = (size_t)tlb->sets * tlb->ways;

	for (size_t i = 0; i < n && tlb->nr_large; i++) {
		struct tlb_entry *e = &tlb->entries[i];

		if (!entry_valid(e) || e->page_shift <= PAGE_SHIFT || !entry_in_pcid(e, pcid))
			continue;
		if (((e->vpn << PAGE_SHIFT) >> e->page_shift) == (gva >> e->page_shift))
			entry_clear(tlb, e);
	}
}

void tlb_invlpg(struct tlb *tlb, gva_t gva, unsigned pcid)
{
	uint64_t vpn = gva >> PAGE_SHIFT;
	struct tlb_entry *set = set_of(tlb, vpn);

	tlb->stats.invlpgs++;
	for (unsigned way = 0; way < tlb->ways; way++)
		if (tlb_entry_matches(&set[way], vpn, pcid))
			entry_clear(tlb, &set[way]);
	if (tlb->nr_large)
		invlpg_large(tlb, gva, pcid);
}

static bool flush_drops(const struct tlb_entry *e, enum smmu_tlb_flush kind, unsigned pcid)
{
	bool global = e->flags & TLB_F_GLOBAL;

	switch (kind) {
	case SMMU_FLUSH_PCID_NONGLOBAL:
		return !global && e->pcid == pcid;
	case SMMU_FLUSH_PCID_ALL:
		return global || e->pcid == pcid;
	case SMMU_FLUSH_ALL:
		return true;
	default:
		return false;
	}
}

/* Flush one set; true when it is left without a valid entry. */
static bool flush_set(struct tlb *tlb, struct tlb_entry *set, enum smmu_tlb_flush kind,
                      unsigned pcid)
{
	bool empty = true;

	for (unsigned way = 0; way < tlb->ways; way++) {
		if (!entry_valid(&set[way]))
			continue;
		if (flush_drops(&set[way], kind, pcid))
			entry_clear(tlb, &set[way]);
		else
			empty = false;
	}
	return empty;
}

void tlb_flush(struct tlb *tlb, enum smmu_tlb_flush kind, unsigned pcid)
{
	if (kind == SMMU_FLUSH_NONE)
		return;
	tlb->stats.flushes++;
	for (unsigned w = 0; w < (tlb->sets + 63) / 64; w++) {
		uint64_t bits = tlb->occupied[w];

		while (bits) {
			unsigned set = w * 64 + (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			if (flush_set(tlb, &tlb->entries[(size_t)set * tlb->ways], kind, pcid))
				tlb->occupied[w] &= ~(1ull << (set % 64));
		}
	}
}

unsigned tlb_count_valid(const struct tlb *tlb)
{
	size_t n = (size_t)tlb->sets * tlb->ways;
	unsigned valid = 0;

	for (size_t i = 0; i < n; i++)
		valid += entry_valid(&tlb->entries[i]);
	return valid;
}
