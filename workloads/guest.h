/*
 * guest.h - the internal model of the guest kernel behind the workloads.
 *
 * The model knows every word of guest-physical memory, except the A/D bits
 * the hardware sets in page-table entries, through one invariant:
 *   - a data or text frame is zero except at WL_NW tracked word offsets,
 *     whose values the model holds (processes access only those words;
 *     every other word reads as 0);
 *   - a page-table frame holds the entries the model wrote (in pt[gfn]),
 *     and is freed only after every entry was cleared to 0 by a guest write;
 *   - a free frame is zero except possibly at its tracked words, which the
 *     kernel clears with explicit writes before reusing it.
 * Hence `r => VALUE` is emitted for data words, never for page-table words.
 *
 * TLB rule (docs/trace-format.md): every change to a present entry is
 * followed, before any access that depends on it, by an invlpg (or a
 * flushing cr3 load) on every vCPU that runs the address space, and with
 * PCIDs by marking the address space's PCID stale on the vCPUs that cached
 * it without running it (their next cr3 load for it flushes, as Linux's
 * tlb_gen check does).  not-present -> present needs no invalidation.
 */
#ifndef SMMU_WORKLOAD_GUEST_H
#define SMMU_WORKLOAD_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workload.h"

#define WL_NW            4  /* tracked words per data frame */
#define WL_MAX_VMAS      24 /* VMAs per address space */
#define WL_NR_PCID_SLOTS 6  /* PCIDs per vCPU, as Linux's TLB_NR_DYN_ASIDS */
#define WL_PAGE          4096ull

/* Frame kinds of the model's guest-physical memory. */
enum wl_frame_kind {
	WL_FRAME_FREE,
	WL_FRAME_KERNEL, /* boot page tables: never freed */
	WL_FRAME_PT,     /* a process's page table (any level) */
	WL_FRAME_DATA,   /* anonymous memory, maybe shared copy-on-write */
	WL_FRAME_TEXT,   /* a binary's page-cache page: shared, never freed */
};

struct wl_frame {
	uint8_t kind;      /* enum wl_frame_kind */
	uint32_t refs;     /* DATA/TEXT: number of PTEs that map it */
	uint64_t w[WL_NW]; /* value of each tracked word */
};

enum wl_vma_kind { WL_VMA_ANON, WL_VMA_TEXT };

struct wl_vma {
	uint64_t start, end; /* [start, end), page aligned */
	uint8_t kind;        /* enum wl_vma_kind */
	uint32_t bin;        /* TEXT: which binary */
};

/* An address space (a process's mm); threads are the mm running on several vCPUs. */
struct wl_mm {
	uint64_t id;      /* never reused: the key of PCID slots */
	uint64_t root;    /* gpa of the top-level table (cr3) */
	uint64_t running; /* vCPUs whose cr3 is this mm */
	struct wl_vma vma[WL_MAX_VMAS];
	unsigned nr_vma;
};

struct wl_pcid_slot {
	uint64_t mm_id; /* 0: free */
	bool stale;     /* entries may be stale: the next load flushes */
};

struct wl_vcpu {
	struct wl_mm *cur; /* NULL: the kernel's own address space (idle) */
	unsigned cpl;
	struct wl_pcid_slot slot[WL_NR_PCID_SLOTS];
	unsigned next_slot;
};

/* Paging geometry of the mode the kernel runs in. */
struct wl_geom {
	enum smmu_paging_mode mode;
	unsigned levels; /* 2 (32-bit), 3 (PAE), 4, 5 */
	unsigned esz;    /* entry size: 4 or 8 */
	uint64_t dmap;   /* GVA of the direct map of guest RAM */
	uint64_t nx;     /* the NX bit, 0 in 32-bit paging */
	uint64_t addr_mask;
	uint64_t text, heap, mmap, stack_top; /* user layout */
};

struct wl_gen {
	struct workload_params p;
	struct wl_geom geo;
	workload_sink_fn sink;
	void *sink_ctx;
	int err;       /* first error: generation stops */
	uint64_t nrec; /* records emitted */
	uint64_t rng;  /* splitmix64 state */
	uint64_t ram;  /* bytes of guest RAM (slot 0 at gpa 0) */
	uint64_t nframes;
	struct wl_frame *frame;
	uint64_t **pt; /* per gfn: the entries of a page-table frame (lazily allocated) */
	uint64_t *free_stack;
	size_t nfree;
	uint64_t bump;       /* next never-used gfn */
	uint64_t *pgd_cache; /* top-level tables holding only the kernel entries */
	size_t npgd_cache;
	uint64_t init_root;
	uint64_t next_mm_id;
	uint64_t *text_gfn; /* WL_NR_BINS * WL_TEXT_PAGES page-cache frames */
	struct wl_vcpu vcpu[WORKLOAD_MAX_VCPUS];
	bool paging;
	/* statistics (for tests and docs) */
	uint64_t nr_faults, nr_cow_copies, nr_invlpg, nr_cr3;
};

#define WL_NR_BINS    8
#define WL_TEXT_PAGES 16

/* ---- guest.c: records, memory, frames, boot ---------------------------- */
uint64_t wl_rand(struct wl_gen *g);
uint64_t wl_rand_below(struct wl_gen *g, uint64_t n);
extern const uint16_t wl_word_off[WL_NW];

void wl_emit(struct wl_gen *g, const struct trace_record *rec);
void wl_emit_cr(struct wl_gen *g, unsigned cpu, unsigned kind, uint64_t value);
void wl_set_cpl(struct wl_gen *g, unsigned cpu, unsigned cpl);
void wl_kwrite(struct wl_gen *g, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val);
void wl_kread_word(struct wl_gen *g, unsigned cpu, uint64_t gfn, unsigned k);
void wl_invlpg(struct wl_gen *g, unsigned cpu, uint64_t gva);

uint64_t wl_frame_alloc(struct wl_gen *g, unsigned cpu, enum wl_frame_kind kind);
void wl_frame_free(struct wl_gen *g, uint64_t gfn);
uint64_t *wl_pt_entries(struct wl_gen *g, uint64_t gfn);
void wl_pt_set(struct wl_gen *g, unsigned cpu, uint64_t gfn, unsigned idx, uint64_t val);

int wl_geom_init(struct wl_geom *geo, enum smmu_paging_mode mode);
unsigned wl_index(const struct wl_geom *geo, uint64_t va, unsigned level);
unsigned wl_entries(const struct wl_geom *geo, unsigned level);
int wl_gen_init(struct wl_gen *g, const struct workload_params *p, uint64_t ram,
                workload_sink_fn sink, void *ctx);
void wl_gen_fini(struct wl_gen *g);
void wl_boot(struct wl_gen *g);

/* ---- mm.c: address spaces, faults, fork/exec/exit, mmap ---------------- */
enum wl_access { WL_READ, WL_WRITE, WL_FETCH };

struct wl_mm *wl_mm_new(struct wl_gen *g, unsigned cpu);
void wl_mm_add_vma(struct wl_mm *mm, uint64_t start, uint64_t npages, enum wl_vma_kind kind,
                   uint32_t bin);
struct wl_mm *wl_mm_exec(struct wl_gen *g, unsigned cpu, uint32_t bin, uint64_t heap_pages,
                         uint64_t stack_pages);
struct wl_mm *wl_mm_fork(struct wl_gen *g, unsigned cpu, struct wl_mm *parent);
void wl_mm_destroy(struct wl_gen *g, unsigned cpu, struct wl_mm *mm);
void wl_switch_mm(struct wl_gen *g, unsigned cpu, struct wl_mm *mm);
void wl_uaccess(struct wl_gen *g, unsigned cpu, enum wl_access acc, uint64_t va, unsigned size,
                uint64_t val);
void wl_utouch(struct wl_gen *g, unsigned cpu, uint64_t page_va, bool write);
void wl_zap_range(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, uint64_t start, uint64_t npages,
                  bool free_tables);
void wl_munmap(struct wl_gen *g, unsigned cpu, struct wl_mm *mm, uint64_t start, uint64_t npages);

#endif /* SMMU_WORKLOAD_GUEST_H */
