/*
 * mm.c - address spaces of the guest-kernel model: page-table walks and
 * allocation, user accesses with their faults (demand paging, copy on
 * write), fork, exec, exit, munmap, context switches with PCIDs, and the
 * TLB invalidations each change needs.
 *
 * User accesses run at CPL 3; the kernel runs at CPL 0 and touches page
 * tables and frames only through the direct map.  Error codes follow SDM
 * Vol. 3A 4.7: P (bit 0) for a protection fault, W/R (1), U/S (2) always
 * set here, I/D (4) on fetches (SMEP is on in every mode, so I/D is set in
 * 32-bit paging too, per docs/trace-format.md).
 *
 * Invalidation (SDM 4.10.4, and the TLB rule of docs/trace-format.md): a
 * change to a present entry is followed by an INVLPG of each changed page
 * (or a flushing CR3 load beyond WL_INVLPG_MAX pages) on every vCPU that
 * runs the mm: on the others it is a shootdown, `@N invlpg` in the IPI
 * handler at CPL 0.  A vCPU that holds the mm's PCID without running it
 * marks it stale and flushes it at its next CR3 load for that mm (INVLPG
 * only reaches the current PCID).  Without PCIDs a CR3 switch flushes all
 * non-global entries, so only running vCPUs need it.  Exit tears an mm down
 * after every vCPU switched away from it, so it needs no invalidation.
 */
#include "guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WL_USER_TABLE (X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_A)
#define WL_INVLPG_MAX 32

static uint64_t *pte_table(struct wl_gen *g, uint64_t gfn)
{
	return g->pt[gfn];
}

static uint64_t entry_gfn(const struct wl_gen *g, uint64_t e)
{
	return (e & g->geo.addr_mask) / WL_PAGE;
}

/* Bytes one leaf page table maps: 2 MiB, 4 MiB in 32-bit paging. */
static uint64_t pt_span(const struct wl_gen *g)
{
	return g->geo.mode == SMMU_PAGING_32BIT ? 1ull << 22 : 1ull << 21;
}

static bool is_kernel_slot(const struct wl_gen *g, unsigned idx)
{
	return pte_table((struct wl_gen *)g, g->init_root / WL_PAGE)[idx] != 0;
}

/*
 * The gfn of the leaf table for va, allocating the missing tables (and
 * linking them with a not-present -> present write, which needs no flush)
 * when alloc; 0 when absent.  *parent and *pidx give the entry that points to
 * the leaf table.
 */
static uint64_t walk_pt(struct wl_gen *g, unsigned cpu, const struct wl_mm *mm, uint64_t va,
                        bool alloc, uint64_t *parent, unsigned *pidx)
{
	uint64_t gfn = mm->root / WL_PAGE;

	for (unsigned l = g->geo.levels - 1; l >= 1; l--) {
		unsigned idx = wl_index(&g->geo, va, l);
		uint64_t e = pte_table(g, gfn)[idx];

		if (!(e & X86_PTE_P)) {
			uint64_t t;

			if (!alloc)
				return 0;
			t = wl_frame_alloc(g, cpu, WL_FRAME_PT);
			if (!t)
				return 0;
			e = t * WL_PAGE | WL_USER_TABLE;
			wl_pt_set(g, cpu, gfn, idx, e);
		}
		if (parent) {
			*parent = gfn;
			*pidx = idx;
		}
		gfn = entry_gfn(g, e);
	}
	return gfn;
}

/* ---- PCIDs and cr3 ---------------------------------------------------- */
static int slot_find(const struct wl_vcpu *v, uint64_t mm_id)
{
	for (int s = 0; s < WL_NR_PCID_SLOTS; s++)
		if (v->slot[s].mm_id == mm_id)
			return s;
	return -1;
}

/* The cr3 value that loads mm on cpu; PCID slot s holds PCID s + 1. */
static uint64_t cr3_for(struct wl_gen *g, unsigned cpu, const struct wl_mm *mm, bool force_flush)
{
	struct wl_vcpu *v = &g->vcpu[cpu];
	int s;

	if (!g->p.pcid)
		return mm ? mm->root : g->init_root;
	if (!mm) /* PCID 0: the kernel's, only global kernel mappings */
		return g->init_root | X86_CR3_NOFLUSH;
	s = slot_find(v, mm->id);
	if (s >= 0 && !v->slot[s].stale && !force_flush)
		return mm->root | (uint64_t)(s + 1) | X86_CR3_NOFLUSH;
	if (s < 0) {
		s = (int)(v->next_slot++ % WL_NR_PCID_SLOTS);
		v->slot[s].mm_id = mm->id;
	}
	v->slot[s].stale = false;
	return mm->root | (uint64_t)(s + 1);
}

void wl_switch_mm(struct wl_gen *g, unsigned cpu, struct wl_mm *mm)
{
	struct wl_vcpu *v = &g->vcpu[cpu];

	if (v->cur == mm)
		return;
	if (v->cur)
		v->cur->running &= ~(1ull << cpu);
	wl_set_cpl(g, cpu, 0);
	wl_emit_cr(g, cpu, TRACE_CR3, cr3_for(g, cpu, mm, false));
	v->cur = mm;
	if (mm)
		mm->running |= 1ull << cpu;
}

/* Invalidate the pages at va[0..n) of mm everywhere they may be cached. */
static void mm_invalidate(struct wl_gen *g, struct wl_mm *mm, const uint64_t *va, unsigned n,
                          bool all)
{
	for (unsigned c = 0; c < g->p.vcpus; c++) {
		struct wl_vcpu *v = &g->vcpu[c];
		int s;

		if (mm->running & (1ull << c)) {
			if (all || n > WL_INVLPG_MAX) {
				wl_set_cpl(g, c, 0);
				wl_emit_cr(g, c, TRACE_CR3, cr3_for(g, c, mm, true));
			} else {
				for (unsigned i = 0; i < n; i++)
					wl_invlpg(g, c, va[i]);
			}
		} else if (g->p.pcid && (s = slot_find(v, mm->id)) >= 0) {
			v->slot[s].stale = true;
		}
	}
}

/* A list of changed pages, degrading to "flush everything" when full. */
struct wl_changes {
	uint64_t va[WL_INVLPG_MAX];
	unsigned n;
	bool all;
};

static void changes_add(struct wl_changes *ch, uint64_t va)
{
	if (ch->n < WL_INVLPG_MAX)
		ch->va[ch->n++] = va;
	else
		ch->all = true;
}

static void changes_flush(struct wl_gen *g, struct wl_mm *mm, struct wl_changes *ch)
{
	if (ch->n || ch->all)
		mm_invalidate(g, mm, ch->va, ch->n, ch->all);
	ch->n = 0;
	ch->all = false;
}

/* ---- address spaces ----------------------------------------------------- */
/* A top-level table with the kernel half: from the cache, or a fresh one. */
static uint64_t pgd_alloc(struct wl_gen *g, unsigned cpu)
{
	uint64_t gfn, *init = pte_table(g, g->init_root / WL_PAGE);
	unsigned n = wl_entries(&g->geo, g->geo.levels - 1);

	if (g->npgd_cache)
		return g->pgd_cache[--g->npgd_cache];
	gfn = wl_frame_alloc(g, cpu, WL_FRAME_PT);
	if (!gfn)
		return 0;
	/* Share the kernel half: point at the same kernel tables (32-bit paging
	 * copies the 4 MiB PDEs, which have no lower table to share). */
	for (unsigned i = 0; i < n; i++)
		if (init[i])
			wl_pt_set(g, cpu, gfn, i, init[i]);
	if (g->geo.mode == SMMU_PAGING_PAE) {
		/* PDPTEs are loaded by cr3 writes only (SDM 4.4.1): like Linux,
		 * preallocate the user PDs so they never change while loaded. */
		for (unsigned i = 0; i < 3; i++) {
			uint64_t pd = wl_frame_alloc(g, cpu, WL_FRAME_PT);

			if (!pd)
				return 0;
			wl_pt_set(g, cpu, gfn, i, pd * WL_PAGE | X86_PTE_P);
		}
	}
	return gfn * WL_PAGE;
}

struct wl_mm *wl_mm_new(struct wl_gen *g, unsigned cpu)
{
	struct wl_mm *mm = calloc(1, sizeof(*mm));

	if (!mm) {
		if (!g->err)
			g->err = -ENOMEM;
		return NULL;
	}
	mm->id = ++g->next_mm_id;
	mm->root = pgd_alloc(g, cpu);
	return mm;
}

void wl_mm_add_vma(struct wl_mm *mm, uint64_t start, uint64_t npages, enum wl_vma_kind kind,
                   uint32_t bin)
{
	struct wl_vma *v;

	if (mm->nr_vma == WL_MAX_VMAS)
		return;
	v = &mm->vma[mm->nr_vma++];
	v->start = start;
	v->end = start + npages * WL_PAGE;
	v->kind = (uint8_t)kind;
	v->bin = bin;
}

static struct wl_vma *vma_find(struct wl_mm *mm, uint64_t va)
{
	for (unsigned i = 0; i < mm->nr_vma; i++)
		if (va >= mm->vma[i].start && va < mm->vma[i].end)
			return &mm->vma[i];
	return NULL;
}

/* Drop one mapping of a frame; anonymous frames are freed with the last. */
static void frame_put(struct wl_gen *g, uint64_t gfn)
{
	struct wl_frame *f = &g->frame[gfn];

	if (f->refs && --f->refs == 0 && f->kind == WL_FRAME_DATA)
		wl_frame_free(g, gfn);
}

/* Clear every user entry below table gfn (level l) and free the tables. */
static void teardown_level(struct wl_gen *g, unsigned cpu, uint64_t gfn, unsigned l, bool top)
{
	uint64_t *t = pte_table(g, gfn);
	unsigned n = wl_entries(&g->geo, l);

	for (unsigned i = 0; i < n && !g->err; i++) {
		uint64_t e = t[i];

		if (!(e & X86_PTE_P) || (top && is_kernel_slot(g, i)))
			continue;
		if (l == 0) {
			wl_pt_set(g, cpu, gfn, i, 0);
			frame_put(g, entry_gfn(g, e));
			continue;
		}
		teardown_level(g, cpu, entry_gfn(g, e), l - 1, false);
		if (top && g->geo.mode == SMMU_PAGING_PAE)
			continue; /* the preallocated PDs stay with the cached PDPT */
		wl_pt_set(g, cpu, gfn, i, 0);
		wl_frame_free(g, entry_gfn(g, e));
	}
}

/*
 * Exit: every vCPU still running mm switches to the kernel's address space,
 * then the kernel clears and frees the user page tables and frames; the
 * top-level table keeps its kernel half and goes to the pgd cache.
 */
void wl_mm_destroy(struct wl_gen *g, unsigned cpu, struct wl_mm *mm)
{
	for (unsigned c = 0; c < g->p.vcpus; c++) {
		int s;

		if (mm->running & (1ull << c))
			wl_switch_mm(g, c, NULL);
		s = slot_find(&g->vcpu[c], mm->id);
		if (s >= 0)
			g->vcpu[c].slot[s].mm_id = 0; /* its next user flushes it */
	}
	if (mm->root) {
		teardown_level(g, cpu, mm->root / WL_PAGE, g->geo.levels - 1, true);
		g->pgd_cache[g->npgd_cache++] = mm->root;
	}
	free(mm);
}

/* ---- faults --------------------------------------------------------------- */
static unsigned word_index(uint64_t off)
{
	for (unsigned k = 0; k < WL_NW; k++)
		if (wl_word_off[k] == (off & ~7ull))
			return k;
	return WL_NW;
}

/* Demand paging: map a zeroed anonymous frame, or the binary's text page. */
static void fault_in(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, const struct wl_vma *vma,
                     uint64_t va, bool write)
{
	uint64_t pt = walk_pt(g, cpu, mm, va, true, NULL, NULL), gfn, pte;

	if (!pt)
		return;
	if (vma->kind == WL_VMA_TEXT) {
		uint64_t page = (va - vma->start) / WL_PAGE;

		gfn = g->text_gfn[vma->bin * WL_TEXT_PAGES + page];
		pte = X86_PTE_P | X86_PTE_US | X86_PTE_A; /* read-only, executable */
	} else {
		gfn = wl_frame_alloc(g, cpu, WL_FRAME_DATA);
		if (!gfn)
			return;
		/* A read fault maps it clean: the CPU sets D at the first write. */
		pte = X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_A | g->geo.nx |
		      (write ? X86_PTE_D : 0);
	}
	g->frame[gfn].refs++;
	wl_pt_set(g, cpu, pt, wl_index(&g->geo, va, 0), gfn * WL_PAGE | pte);
}

/* Copy the words a process uses (every other word of both frames is zero). */
static uint64_t cow_copy(struct wl_gen *g, unsigned cpu, uint64_t old)
{
	uint64_t gfn = wl_frame_alloc(g, cpu, WL_FRAME_DATA);

	if (!gfn)
		return 0;
	for (unsigned k = 0; k < WL_NW; k++) {
		uint64_t v = g->frame[old].w[k];

		wl_kread_word(g, cpu, old, k);
		if (v) {
			wl_kwrite(g, cpu, gfn * WL_PAGE + wl_word_off[k], 8, v);
			g->frame[gfn].w[k] = v;
		}
	}
	g->nr_cow_copies++;
	return gfn;
}

/* A write to a present read-only page of a writable mapping: copy on write. */
static void fault_cow(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, uint64_t va, uint64_t pt,
                      uint64_t e)
{
	uint64_t old = entry_gfn(g, e), gfn = old;
	struct wl_changes ch = {.n = 0};

	if (g->frame[old].refs > 1) { /* still shared: copy, else reuse the page */
		gfn = cow_copy(g, cpu, old);
		if (!gfn)
			return;
		g->frame[gfn].refs = 1;
		g->frame[old].refs--;
	}
	e = (e & ~g->geo.addr_mask) | gfn * WL_PAGE | X86_PTE_RW | X86_PTE_D;
	wl_pt_set(g, cpu, pt, wl_index(&g->geo, va, 0), e);
	changes_add(&ch, va & ~(WL_PAGE - 1));
	changes_flush(g, mm, &ch);
}

static void handle_fault(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, uint64_t va,
                         enum wl_access acc, uint64_t pt, uint64_t e)
{
	struct wl_vma *vma = vma_find(mm, va);

	g->nr_faults++;
	if (!vma) { /* the model only touches its mappings */
		g->err = -EFAULT;
		return;
	}
	if (!(e & X86_PTE_P))
		fault_in(g, cpu, mm, vma, va, acc == WL_WRITE);
	else if (acc == WL_WRITE && vma->kind == WL_VMA_ANON)
		fault_cow(g, cpu, mm, va, pt, e);
	else
		g->err = -EFAULT;
}

/* ---- user accesses ------------------------------------------------------ */
static void emit_access(struct wl_gen *g, unsigned cpu, enum wl_access acc, uint64_t va,
                        unsigned size, uint64_t val, const struct trace_expect *ex)
{
	struct trace_record r;

	memset(&r, 0, sizeof(r));
	r.vcpu = cpu;
	r.expect = *ex;
	if (acc == WL_FETCH) {
		r.kind = TRACE_FETCH;
		r.op[0] = va;
	} else {
		r.kind = acc == WL_WRITE ? TRACE_WRITE : TRACE_READ;
		r.op[0] = size;
		r.op[1] = va;
		r.op[2] = val;
	}
	wl_emit(g, &r);
}

static uint64_t size_mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* The access succeeds: emit it with its expectation and update the model. */
static void access_ok(struct wl_gen *g, unsigned cpu, enum wl_access acc, uint64_t va,
                      unsigned size, uint64_t val, uint64_t pt, uint64_t e)
{
	struct trace_expect ex = {.kind = TRACE_EXPECT_OK};
	struct wl_frame *f = &g->frame[entry_gfn(g, e)];
	uint64_t off = va & (WL_PAGE - 1);
	unsigned k = word_index(off), shift = (unsigned)(off & 7) * 8;
	uint64_t *pte = &pte_table(g, pt)[wl_index(&g->geo, va, 0)];

	*pte |= X86_PTE_A; /* what the CPU does, so later writes keep it */
	if (acc == WL_READ) {
		ex.kind = TRACE_EXPECT_VALUE;
		ex.value = k < WL_NW ? (f->w[k] >> shift) & size_mask(size) : 0;
	} else if (acc == WL_WRITE) {
		val &= size_mask(size);
		if (k == WL_NW) { /* writes go to tracked words only (the invariant) */
			g->err = -EFAULT;
			return;
		}
		f->w[k] = (f->w[k] & ~(size_mask(size) << shift)) | val << shift;
		*pte |= X86_PTE_D;
	}
	emit_access(g, cpu, acc, va, size, val, &ex);
}

/*
 * A user access at CPL 3 on cpu's current mm.  A fault is emitted with its
 * error code, handled by the kernel at CPL 0, and the access retried.
 */
void wl_uaccess(struct wl_gen *g, unsigned cpu, enum wl_access acc, uint64_t va, unsigned size,
                uint64_t val)
{
	struct wl_mm *mm = g->vcpu[cpu].cur;

	val &= size_mask(size);
	for (unsigned tries = 0; tries < 3 && !g->err; tries++) {
		uint64_t pt = walk_pt(g, cpu, mm, va, false, NULL, NULL);
		uint64_t e = pt ? pte_table(g, pt)[wl_index(&g->geo, va, 0)] : 0;
		struct trace_expect ex = {.kind = TRACE_EXPECT_PF};

		wl_set_cpl(g, cpu, 3);
		if ((e & X86_PTE_P) && (acc != WL_WRITE || (e & X86_PTE_RW))) {
			access_ok(g, cpu, acc, va, size, val, pt, e);
			return;
		}
		ex.value = (e & X86_PTE_P ? X86_PFEC_P : 0) | (acc == WL_WRITE ? X86_PFEC_W : 0) |
		           X86_PFEC_U | (acc == WL_FETCH ? X86_PFEC_I : 0);
		emit_access(g, cpu, acc, va, size, val, &ex);
		handle_fault(g, cpu, mm, va, acc, pt, e);
	}
	if (!g->err)
		g->err = -EFAULT; /* a model bug: the fault was not resolved */
}

/* Touch a page the way a process does: a tracked word, any size, or
 * (on reads) an untouched word that must read as zero. */
void wl_utouch(struct wl_gen *g, unsigned cpu, uint64_t page_va, bool write)
{
	uint64_t r = wl_rand(g);
	unsigned size = 1u << (r & 3), k = (r >> 2) % WL_NW;
	uint64_t off = wl_word_off[k] + ((r >> 8) & (8 - size) & ~(uint64_t)(size - 1));

	if (write) {
		wl_uaccess(g, cpu, WL_WRITE, page_va + off, size, wl_rand(g));
		return;
	}
	if (((r >> 16) & 15) == 0) /* word 0x208 is never tracked */
		off = 0x208 + (off & 7);
	wl_uaccess(g, cpu, WL_READ, page_va + off, size, 0);
}

/* ---- fork, exec, munmap --------------------------------------------------- */
/* Share one present page with the child, write-protecting anonymous pages. */
static void fork_page(struct wl_gen *g, unsigned cpu, struct wl_mm *parent, struct wl_mm *child,
                      const struct wl_vma *vma, uint64_t va, uint64_t pt, struct wl_changes *ch)
{
	unsigned idx = wl_index(&g->geo, va, 0);
	uint64_t e = pte_table(g, pt)[idx], cpt;

	if (!(e & X86_PTE_P))
		return;
	if (vma->kind == WL_VMA_ANON && (e & X86_PTE_RW)) {
		e &= ~X86_PTE_RW;
		wl_pt_set(g, cpu, pt, idx, e);
		changes_add(ch, va);
	}
	cpt = walk_pt(g, cpu, child, va, true, NULL, NULL);
	if (!cpt)
		return;
	wl_pt_set(g, cpu, cpt, idx, e);
	g->frame[entry_gfn(g, e)].refs++;
}

struct wl_mm *wl_mm_fork(struct wl_gen *g, unsigned cpu, struct wl_mm *parent)
{
	struct wl_mm *child = wl_mm_new(g, cpu);
	struct wl_changes ch = {.n = 0};

	if (!child)
		return NULL;
	memcpy(child->vma, parent->vma, sizeof(child->vma));
	child->nr_vma = parent->nr_vma;
	for (unsigned i = 0; i < parent->nr_vma && !g->err; i++) {
		const struct wl_vma *vma = &parent->vma[i];

		for (uint64_t va = vma->start; va < vma->end && !g->err;) {
			uint64_t pt = walk_pt(g, cpu, parent, va, false, NULL, NULL);

			if (!pt) { /* no table: skip to the next one */
				va = (va | (pt_span(g) - 1)) + 1;
				continue;
			}
			fork_page(g, cpu, parent, child, vma, va, pt, &ch);
			va += WL_PAGE;
		}
	}
	changes_flush(g, parent, &ch);
	return child;
}

/* A fresh mm for binary `bin`: text, heap and stack VMAs, nothing mapped. */
struct wl_mm *wl_mm_exec(struct wl_gen *g, unsigned cpu, uint32_t bin, uint64_t heap_pages,
                         uint64_t stack_pages)
{
	struct wl_mm *mm = wl_mm_new(g, cpu);

	if (!mm)
		return NULL;
	wl_mm_add_vma(mm, g->geo.text, WL_TEXT_PAGES, WL_VMA_TEXT, bin % WL_NR_BINS);
	wl_mm_add_vma(mm, g->geo.heap, heap_pages, WL_VMA_ANON, 0);
	wl_mm_add_vma(mm, g->geo.stack_top - stack_pages * WL_PAGE, stack_pages, WL_VMA_ANON, 0);
	return mm;
}

/* Free the leaf table at `pt` if empty: clear the entry that points to it. */
static bool free_table_if_empty(struct wl_gen *g, unsigned cpu, uint64_t pt, uint64_t parent,
                                unsigned pidx)
{
	uint64_t *t = pte_table(g, pt);

	for (unsigned i = 0; i < wl_entries(&g->geo, 0); i++)
		if (t[i])
			return false;
	wl_pt_set(g, cpu, parent, pidx, 0);
	wl_frame_free(g, pt);
	return true;
}

/*
 * Unmap [start, start + npages pages): clear the PTEs, free the frames and
 * (free_tables) the leaf tables left empty, then invalidate: INVLPG also
 * drops paging-structure caches (SDM 4.10.4.1), so the same invalidation
 * covers the freed tables.
 */
void wl_zap_range(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, uint64_t start, uint64_t npages,
                  bool free_tables)
{
	struct wl_changes ch = {.n = 0};
	uint64_t end = start + npages * WL_PAGE;

	for (uint64_t va = start; va < end && !g->err;) {
		uint64_t parent = 0, next = (va | (pt_span(g) - 1)) + 1;
		unsigned pidx = 0;
		uint64_t pt = walk_pt(g, cpu, mm, va, false, &parent, &pidx);

		if (next > end)
			next = end;
		for (; pt && va < next; va += WL_PAGE) {
			unsigned idx = wl_index(&g->geo, va, 0);
			uint64_t e = pte_table(g, pt)[idx];

			if (!(e & X86_PTE_P))
				continue;
			wl_pt_set(g, cpu, pt, idx, 0);
			frame_put(g, entry_gfn(g, e));
			changes_add(&ch, va);
		}
		if (pt && free_tables && free_table_if_empty(g, cpu, pt, parent, pidx))
			changes_add(&ch, next - WL_PAGE);
		va = next;
	}
	changes_flush(g, mm, &ch);
}

void wl_munmap(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, uint64_t start, uint64_t npages)
{
	wl_zap_range(g, cpu, mm, start, npages, true);
	for (unsigned i = 0; i < mm->nr_vma; i++) {
		if (mm->vma[i].start != start)
			continue;
		mm->vma[i] = mm->vma[--mm->nr_vma];
		return;
	}
}
