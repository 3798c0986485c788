/*
 * trace_impl.h - what the trace layer's files share and nobody else needs:
 * the table of record kinds, the static-rule checker both readers run, the
 * buffered input both readers consume, and the reader/writer structures.
 *
 * Invariant: a record leaves a reader only after trace_check_record()
 * accepted it, so the text and binary readers enforce the same rules and a
 * binary trace can never carry what its text form could not.
 */
#ifndef SMMU_TRACE_IMPL_H
#define SMMU_TRACE_IMPL_H

#include "trace/trace.h"

/* How an operand is written in text and coded in binary. */
enum trace_op_class {
	TOP_DEC,   /* small number (ID, count, size, 0|1): decimal; plain varint */
	TOP_HEX,   /* register value: hex; plain varint */
	TOP_GVA,   /* guest-virtual address: hex; delta from the previous GVA */
	TOP_GPA,   /* guest-physical address: hex; delta from the previous GPA */
	TOP_VAL,   /* memory value: hex; delta from the previous value */
	TOP_BYTES, /* length in bytes: K/M/G when exact; plain varint */
	TOP_ONOFF, /* on|off */
	TOP_SLOTF, /* slot flags [ro] [log] */
};

struct trace_kind_info {
	const char *name;                  /* as in the text: "slot del" */
	const char *opname[TRACE_MAX_OPS]; /* operand names for messages */
	uint8_t cls[TRACE_MAX_OPS];        /* enum trace_op_class per operand */
	uint8_t nr_ops;                    /* operands stored in op[] */
	uint8_t flags;                     /* TRACE_KF_* */
	uint8_t expects;                   /* 1 << TRACE_EXPECT_x accepted */
};

extern const struct trace_kind_info trace_kinds[TRACE_NR_KINDS];
extern const char *const trace_cpu_names[TRACE_CPU_NR_FEATURES];
extern const char *const trace_expect_names[TRACE_NR_EXPECTS];

/* ---- static rules ---------------------------------------------------------- */
struct trace_check {
	bool allow_host;     /* reader option allow_host_records */
	bool guest_seen;     /* a guest record was accepted */
	uint32_t vcpus;      /* vCPU count in force (default 1) */
	uint64_t records;    /* records accepted so far */
	uint64_t vcpus_line; /* line of the vcpus record, 0 if none */
	uint64_t mmu_line;   /* line of the mmu record, 0 if none */
	uint64_t guest_line; /* line of the first guest record */
};

/* Where a rule was broken: an operand index (>= 0) or one of these. */
enum {
	TRACE_AT_NAME = -1,   /* the record name */
	TRACE_AT_VCPU = -2,   /* the @N prefix */
	TRACE_AT_EXPECT = -3, /* the expectation after `=>` */
};

struct trace_fault {
	int at;        /* TRACE_AT_* or operand index */
	char msg[256]; /* what is wrong, no position */
};

void trace_check_init(struct trace_check *c, const struct trace_reader_opts *opts);
/* Accept rec (0, state updated) or describe the first broken rule (-EINVAL). */
int trace_check_record(struct trace_check *c, const struct trace_record *rec,
                       struct trace_fault *f);
/* Sort and merge ranges in place; returns the new count. */
size_t trace_ranges_normalize(struct trace_range *rg, size_t nr);
/* True if rg[0..nr) is sorted, disjoint and non-adjacent. */
bool trace_ranges_normal(const struct trace_range *rg, size_t nr);

/* ---- buffered input ------------------------------------------------------- */
struct trace_src {
	FILE *f;                /* NULL for a memory buffer */
	uint8_t *buf;           /* owned window storage (stream mode) */
	size_t cap;             /* bytes allocated at buf */
	const uint8_t *p, *end; /* unread bytes */
	uint64_t offset;        /* input offset of p */
	bool eof;               /* no more input beyond end */
	bool ioerr;             /* the stream reported an error */
};

/* Make at least `want` unread bytes available unless the input ends first. */
int trace_src_fill(struct trace_src *s, size_t want);

static inline size_t trace_src_avail(const struct trace_src *s)
{
	return (size_t)(s->end - s->p);
}

static inline void trace_src_skip(struct trace_src *s, size_t n)
{
	s->p += n;
	s->offset += n;
}

/* ---- the reader ------------------------------------------------------------ */
struct trace_bin_state; /* binary.c */

struct trace_reader {
	enum trace_format fmt;
	struct trace_src src;
	struct trace_check chk;
	char *name;        /* for messages */
	uint64_t line;     /* text: lines consumed so far */
	int err;           /* sticky: 0 or the first error */
	uint64_t err_line; /* text error position */
	unsigned err_col;
	char errmsg[512];
	struct trace_range *ranges; /* storage for the current record's LIST */
	size_t ranges_cap;
	struct trace_bin_state *bin; /* binary decoder state */
};

/* Record an error (sticky) and return it.  Line/col 0 mean "not a text position". */
int trace_reader_fail(struct trace_reader *r, int err, uint64_t line, unsigned col, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
/* Make room for n ranges in r->ranges. */
int trace_reader_reserve_ranges(struct trace_reader *r, size_t n);

/* binary.c */
#define TRACE_BIN_MAGIC     "\x89smmutrc"
#define TRACE_BIN_MAGIC_LEN 8
int trace_bin_open(struct trace_reader *r);
int trace_bin_read(struct trace_reader *r, struct trace_record *rec);
void trace_bin_free(struct trace_reader *r);

/* ---- the writer ------------------------------------------------------------ */
struct trace_bin_enc; /* binary.c */

struct trace_writer {
	enum trace_format fmt;
	FILE *f;
	int err;   /* first error, sticky */
	char *buf; /* text: pending output */
	size_t len, cap;
	struct trace_bin_enc *bin;
};

int trace_bin_writer_open(struct trace_writer *w);
int trace_bin_writer_put(struct trace_writer *w, const struct trace_record *rec);
int trace_bin_writer_close(struct trace_writer *w);

/* CRC-32C (Castagnoli), as iSCSI and ext4 use it: crc = trace_crc32c(0, ...). */
uint32_t trace_crc32c(uint32_t crc, const void *data, size_t len);

#endif /* SMMU_TRACE_IMPL_H */
