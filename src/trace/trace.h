/*
 * trace.h - the trace layer: the record model of trace format version 1
 * (docs/trace-format.md, the authority), a streaming reader for its text
 * form and for the project's binary encoding (docs/trace-binary.md), and
 * writers for both.
 *
 * A trace is read one record at a time in constant memory (bounded by the
 * longest line or binary block, never by the trace length).  The reader
 * enforces the lexical rules and every *static* rule of the format: operand
 * syntax and ranges, record order, vCPU numbers, which expectation a record
 * may carry.  It does not know the run-time state: a 32-bit GVA used outside
 * IA-32e mode, an overlapping memslot, a slot ID that does not exist or a
 * cr0 value that is #GP are for the executor and the memslot layer to judge.
 *
 * Records carry their operands in op[] in the order the text gives them
 * (table below); the executor interprets them, the reader only checks them.
 *
 *   kind               text                         op[0]    op[1]  op[2]    op[3]
 *   TRACE_HEADER       shadowmmu-trace 1            version
 *   TRACE_VCPUS        vcpus N                      N
 *   TRACE_CPU          cpu NAME=VALUE ...           set      on     maxphyaddr
 *   TRACE_SLOT         slot ID GPA SIZE [ro] [log]  ID       GPA    SIZE     TRACE_SLOTF_*
 *   TRACE_CR0..PKRU    cr0 V                        V
 *   TRACE_CPL, AC      cpl 0|3, ac 0|1              value
 *   TRACE_READ         r SIZE GVA                   SIZE     GVA
 *   TRACE_WRITE        w SIZE GVA VALUE             SIZE     GVA    VALUE
 *   TRACE_FETCH        x GVA                        GVA
 *   TRACE_INVLPG       invlpg GVA                   GVA
 *   TRACE_FLUSH        flush
 *   TRACE_SLOT_DEL     slot del ID                  ID
 *   TRACE_SLOT_MOVE    slot move ID GPA             ID       GPA
 *   TRACE_SLOT_LOG     slot log ID on|off           ID       1|0
 *   TRACE_DIRTY        dirty ID                     ID
 *   TRACE_HOST_SWAP    host swap GPA SIZE           GPA      SIZE
 *   TRACE_HOST_MIGRATE host migrate GPA SIZE        GPA      SIZE
 *   TRACE_HOST_MERGE   host merge GPA1 GPA2         GPA1     GPA2
 *   TRACE_HOST_AGE     host age GPA SIZE            GPA      SIZE
 *   TRACE_ZAPALL       zapall
 *   TRACE_MMU          mmu shadow|tdp [ept_ad=0|1]  0|1 (tdp) ept_ad
 *
 * A cpu record sets only the features it names: bit TRACE_CPU_x of `set`
 * says the feature is named, the same bit of `on` gives a 0|1 feature's
 * value, op[2] gives maxphyaddr when TRACE_CPU_MAXPHYADDR is set (else 0).
 * trace_cpu_apply() folds a cpu record into a struct smmu_cpu_model.
 */
#ifndef SMMU_TRACE_H
#define SMMU_TRACE_H

#include <shadowmmu/x86.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRACE_VERSION   1   /* the text format version this reader reads */
#define TRACE_MAX_VCPUS 256 /* largest `vcpus N` accepted (a reader limit) */
#define TRACE_MAX_OPS   4
#define TRACE_MAX_LINE  (1u << 20) /* longest text line, bytes (a reader limit) */
#define TRACE_PAGE_SIZE 4096ull

enum trace_kind {
	TRACE_HEADER,
	TRACE_VCPUS,
	TRACE_CPU,
	TRACE_SLOT,
	TRACE_CR0,
	TRACE_CR3,
	TRACE_CR4,
	TRACE_EFER,
	TRACE_PKRU,
	TRACE_CPL,
	TRACE_AC,
	TRACE_READ,
	TRACE_WRITE,
	TRACE_FETCH,
	TRACE_INVLPG,
	TRACE_FLUSH,
	TRACE_SLOT_DEL,
	TRACE_SLOT_MOVE,
	TRACE_SLOT_LOG,
	TRACE_DIRTY,
	TRACE_HOST_SWAP,
	TRACE_HOST_MIGRATE,
	TRACE_HOST_MERGE,
	TRACE_HOST_AGE,
	TRACE_ZAPALL,
	TRACE_MMU,
	TRACE_NR_KINDS,
};

/* op[0] of TRACE_MMU. */
#define TRACE_MMU_SHADOW 0
#define TRACE_MMU_TDP    1

/* Slot flags (op[3] of TRACE_SLOT). */
#define TRACE_SLOTF_RO  (1u << 0) /* read-only for the guest: writes exit as MMIO */
#define TRACE_SLOTF_LOG (1u << 1) /* dirty logging on from the start */

/* Features of a cpu record: bit numbers in op[0] (named) and op[1] (value). */
enum trace_cpu_feature {
	TRACE_CPU_MAXPHYADDR, /* numeric: value in op[2], 32..52 */
	TRACE_CPU_GBPAGES,
	TRACE_CPU_LA57,
	TRACE_CPU_PCID,
	TRACE_CPU_PKU,
	TRACE_CPU_SMEP,
	TRACE_CPU_SMAP,
	TRACE_CPU_NX,
	TRACE_CPU_PSE36,
	TRACE_CPU_NR_FEATURES,
};

/* What a record says the guest (or host) must observe: `=> EXPECT`. */
enum trace_expect_kind {
	TRACE_EXPECT_NONE,  /* no `=>`: nothing is checked */
	TRACE_EXPECT_VALUE, /* r: the value read (fits in SIZE bytes) */
	TRACE_EXPECT_OK,    /* no fault */
	TRACE_EXPECT_PF,    /* #PF with error code `value` (bits 5:0 only), CR2 = GVA */
	TRACE_EXPECT_GP,    /* #GP */
	TRACE_EXPECT_UD,    /* #UD (pkru with CR4.PKE = 0) */
	TRACE_EXPECT_LIST,  /* dirty, host age: a set of page indexes */
	TRACE_NR_EXPECTS,
};

/* An inclusive range of page indexes.  Lists are sorted, disjoint, non-adjacent. */
struct trace_range {
	uint64_t first, last;
};

struct trace_expect {
	enum trace_expect_kind kind;
	uint64_t value;                   /* VALUE: the value; PF: the error code */
	const struct trace_range *ranges; /* LIST: owned by the reader (or the caller) */
	size_t nr_ranges;                 /* LIST: 0 for `-` (the empty set) */
};

struct trace_record {
	enum trace_kind kind;
	uint32_t vcpu;              /* @N; 0 without the prefix */
	uint64_t line;              /* source line (text) or the line it came from */
	uint64_t op[TRACE_MAX_OPS]; /* operands in text order, see the table above */
	struct trace_expect expect; /* valid until the next trace_read() */
};

/* Kind classes (trace_kind_flags). */
#define TRACE_KF_SETUP (1u << 0) /* vcpus, cpu: only before any guest record */
#define TRACE_KF_GUEST (1u << 1) /* run by one vCPU */
#define TRACE_KF_HOST  (1u << 2) /* host / dirty-log record (allow_host_records) */
#define TRACE_KF_VMM   (1u << 3) /* in the spec's "host and VMM" section (host + zapall) */

const char *trace_kind_name(enum trace_kind kind); /* "slot del"; NULL if invalid */
unsigned trace_kind_flags(enum trace_kind kind);
/* Bit (1 << TRACE_EXPECT_x) set for each expectation the record kind accepts. */
unsigned trace_kind_expects(enum trace_kind kind);
/* True if the record needs the host/dirty-log support (`slot ... log` included). */
bool trace_record_is_host(const struct trace_record *rec);
/* Apply the features a TRACE_CPU record names to *m. */
void trace_cpu_apply(const struct trace_record *rec, struct smmu_cpu_model *m);

/* ---- reading ------------------------------------------------------------ */
enum trace_format {
	TRACE_FORMAT_TEXT,
	TRACE_FORMAT_BINARY,
};

struct trace_reader_opts {
	/*
	 * Accept host and dirty-log records (slot del/move/log, `slot ... log`,
	 * dirty, host swap/migrate/merge/age).  On by default; an executor
	 * without that support turns it off so such a trace fails at parse time
	 * with a clear message instead of half-way through a run.
	 */
	bool allow_host_records;
};

struct trace_reader;

void trace_reader_opts_init(struct trace_reader_opts *opts);

/*
 * Open a reader over a stream or a memory buffer.  The format (text or
 * binary) is detected from the first bytes.  `name` appears in error
 * messages; a memory buffer must outlive the reader; opts may be NULL
 * (defaults).  Return 0 or -ENOMEM / -EINVAL.
 */
int trace_reader_open_file(struct trace_reader **rp, FILE *f, const char *name,
                           const struct trace_reader_opts *opts);
int trace_reader_open_mem(struct trace_reader **rp, const void *buf, size_t len, const char *name,
                          const struct trace_reader_opts *opts);
void trace_reader_close(struct trace_reader *r);

/*
 * Read the next record into *rec.  Returns 1 when a record was read, 0 at the
 * end of a well-formed trace, or a negative errno: -EINVAL malformed input
 * (text syntax or a static rule; binary corruption is -EBADMSG), -EIO a read
 * error, -ENOMEM.  After an error every later call returns the same error and
 * no further record: nothing past the first error is returned.
 */
int trace_read(struct trace_reader *r, struct trace_record *rec);
/* "NAME:LINE:COL: message" for text, "NAME: offset N: message" for binary. */
const char *trace_reader_error(const struct trace_reader *r);
/* Line and column (1-based) of a text error; 0 when not applicable. */
void trace_reader_error_pos(const struct trace_reader *r, uint64_t *line, unsigned *col);
enum trace_format trace_reader_format(const struct trace_reader *r);
uint64_t trace_reader_records(const struct trace_reader *r); /* records returned so far */

/* ---- writing ------------------------------------------------------------ */
struct trace_writer;

/*
 * A writer emits records in the canonical text form or the binary encoding.
 * It does not validate records beyond what the encoding needs (a LIST must
 * be sorted and disjoint); feed it what a reader returned, or records that
 * follow the same rules.  trace_writer_close() writes the binary trailer,
 * flushes, frees the writer and returns the first error seen (0 or -errno).
 */
int trace_writer_open(struct trace_writer **wp, FILE *f, enum trace_format fmt);
int trace_writer_put(struct trace_writer *w, const struct trace_record *rec);
int trace_writer_close(struct trace_writer *w);

/*
 * Format one record as a canonical text line (no newline) into buf, as
 * snprintf does: returns the length it needs, writes at most len bytes.
 */
int trace_format_record(const struct trace_record *rec, char *buf, size_t len);

/* Copy every record from `in` to `out`; 0 or the first negative errno. */
int trace_convert(struct trace_reader *in, struct trace_writer *out);

#endif /* SMMU_TRACE_H */
