/*
 * binary.c - the binary encoding of traces (docs/trace-binary.md): a fixed
 * header (magic, encoding version, record count), the records in blocks that
 * each carry a CRC-32C, and a trailer with the record count and a checksum
 * chained over every block's CRC.
 *
 * A record is one opcode byte (kind in bits 4:0, expectation kind in bits
 * 7:5) followed by LEB128 varints: the line as a delta from the previous
 * line + 1, then the operands in text order.  Guest-virtual addresses,
 * guest-physical addresses and memory values are each coded as a zigzag
 * delta from the previous one of their class, so sequential accesses and
 * page-table entries cost one to three bytes.  A vCPU change is a pseudo
 * opcode (OP_VCPU) before the record.
 *
 * Invariants: a block holds whole records and is verified before any of its
 * records is decoded, so a corrupted block yields an error and no record
 * from it; decoded records go through the same static-rule checker as text
 * (record.c); every length and count read from the input is bounded before
 * it is used.
 */
#include "trace/trace_impl.h"

#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define BIN_VERSION   1
#define HEADER_LEN    24
#define BLOCK_HDR_LEN 8
#define TRAILER_LEN   16
#define BLOCK_TARGET  (64u << 10) /* the writer closes a block past this */
#define BLOCK_MAX     (16u << 20) /* the reader rejects a longer block */
#define OP_VCPU       31          /* pseudo opcode: varint vCPU for the next records */
#define COUNT_UNKNOWN UINT64_MAX  /* header count when the output was not seekable */
#define MAX_RECORD    96          /* encoded size bound of a record without its LIST */

/* ---- CRC-32C ---------------------------------------------------------------- */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#if defined(__x86_64__)
/* SSE4.2 CRC32 computes exactly CRC-32C, 8 bytes per instruction. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
	}
	c = (uint32_t)c64;
	while (n--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

uint32_t trace_crc32c(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(~crc, data, len);
#endif
	return ~crc32c_sw(~crc, data, len);
}

/* ---- little-endian fields, varints, zigzag ---------------------------------- */
static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

/* LEB128; false if it runs past end or past 64 bits. */
static bool get_varint_slow(const uint8_t **qp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *qp;
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (q == end)
			return false;
		b = *q++;
		if (shift == 63 && b > 1)
			return false;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*qp = q;
			*v = x;
			return true;
		}
	}
	return false;
}

/* Most values (deltas, sizes, lines) take one byte: that case inline. */
static inline bool get_varint(const uint8_t **qp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *qp;

	if (likely(q != end && *q < 0x80)) {
		*v = *q;
		*qp = q + 1;
		return true;
	}
	return get_varint_slow(qp, end, v);
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*
 * The delta registers, identical in encoder and decoder.  Values written and
 * values expected from reads have their own registers: page-table entries
 * and data patterns each change little from one record to the next.
 */
enum { REG_GVA, REG_GPA, REG_WVAL, REG_RVAL, NR_REGS };

struct bin_regs {
	uint64_t last[NR_REGS]; /* previous value of each delta class */
	uint64_t line;          /* previous record's line */
	uint32_t vcpu;          /* vCPU of the following records */
};

static int op_reg(enum trace_op_class cls)
{
	switch (cls) {
	case TOP_GVA:
		return REG_GVA;
	case TOP_GPA:
		return REG_GPA;
	case TOP_VAL:
		return REG_WVAL;
	default:
		return -1;
	}
}

/* The header's own CRC-32C (bytes 12..15) covers every other header byte. */
static uint32_t header_crc(const uint8_t *hdr)
{
	return trace_crc32c(trace_crc32c(0, hdr, 12), hdr + 16, 8);
}

/* ---- decoding --------------------------------------------------------------- */
struct trace_bin_state {
	uint64_t header_count;  /* from the header, or COUNT_UNKNOWN */
	const uint8_t *q, *end; /* unread payload of the current block */
	size_t blk_total;       /* bytes of the current block, header included */
	bool in_block, done;
	uint32_t chain; /* CRC-32C over the block CRCs so far */
	uint64_t count; /* records decoded */
	struct bin_regs regs;
};

static uint64_t bin_offset(const struct trace_reader *r)
{
	const struct trace_bin_state *st = r->bin;

	if (st && st->in_block)
		return r->src.offset + (uint64_t)(st->q - r->src.p);
	return r->src.offset;
}

static int corrupt(struct trace_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Corrupt or truncated input: -EBADMSG, with the input offset. */
static int corrupt(struct trace_reader *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return trace_reader_fail(r, -EBADMSG, 0, 0, "offset %llu: %s",
	                         (unsigned long long)bin_offset(r), msg);
}

int trace_bin_open(struct trace_reader *r)
{
	int err = trace_src_fill(&r->src, HEADER_LEN);
	const uint8_t *p = r->src.p;
	size_t have = trace_src_avail(&r->src);

	if (err)
		return err;
	r->bin = calloc(1, sizeof(*r->bin));
	if (!r->bin)
		return -ENOMEM;
	if (have < TRACE_BIN_MAGIC_LEN || memcmp(p, TRACE_BIN_MAGIC, TRACE_BIN_MAGIC_LEN))
		return corrupt(r, "not a shadowmmu trace (bad magic)");
	if (have < HEADER_LEN)
		return corrupt(r, "truncated header (%zu of %u bytes)", have, HEADER_LEN);
	if ((p[8] | p[9] << 8) != BIN_VERSION)
		return corrupt(r, "unsupported binary encoding version %u", p[8] | p[9] << 8);
	if (get_le32(p + 12) != header_crc(p))
		return corrupt(r, "header checksum mismatch");
	if (p[10] || p[11])
		return corrupt(r, "unknown header flags");
	r->bin->header_count = get_le64(p + 16);
	trace_src_skip(&r->src, HEADER_LEN);
	return 0;
}

void trace_bin_free(struct trace_reader *r)
{
	free(r->bin);
	r->bin = NULL;
}

static int bin_trailer(struct trace_reader *r, uint32_t crc_field)
{
	struct trace_bin_state *st = r->bin;
	const uint8_t *p;
	uint64_t count;

	if (crc_field != 0)
		return corrupt(r, "bad end-of-body marker");
	if (trace_src_fill(&r->src, BLOCK_HDR_LEN + TRAILER_LEN))
		return trace_reader_fail(r, -EIO, 0, 0, "read error");
	if (trace_src_avail(&r->src) < BLOCK_HDR_LEN + TRAILER_LEN)
		return corrupt(r, "truncated trailer");
	p = r->src.p + BLOCK_HDR_LEN;
	count = get_le64(p);
	if (get_le32(p + 12) != trace_crc32c(0, p, 12))
		return corrupt(r, "trailer checksum mismatch");
	if (get_le32(p + 8) != st->chain)
		return corrupt(r, "body checksum mismatch (blocks missing or reordered)");
	if (count != st->count || (st->header_count != COUNT_UNKNOWN && st->header_count != count))
		return corrupt(r, "record count mismatch: header %llu, trailer %llu, body %llu",
		               (unsigned long long)st->header_count, (unsigned long long)count,
		               (unsigned long long)st->count);
	trace_src_skip(&r->src, BLOCK_HDR_LEN + TRAILER_LEN);
	if (trace_src_fill(&r->src, 1) || trace_src_avail(&r->src))
		return corrupt(r, "data after the trailer");
	st->done = true;
	return 0;
}

/* Load and verify the next block (or the trailer). */
static int bin_next_block(struct trace_reader *r)
{
	struct trace_bin_state *st = r->bin;
	const uint8_t *p;
	uint32_t len, crc;

	if (trace_src_fill(&r->src, BLOCK_HDR_LEN))
		return trace_reader_fail(r, -EIO, 0, 0, "read error");
	if (trace_src_avail(&r->src) < BLOCK_HDR_LEN)
		return corrupt(r, "truncated: %s",
		               trace_src_avail(&r->src) ? "partial block header" : "no trailer");
	len = get_le32(r->src.p);
	crc = get_le32(r->src.p + 4);
	if (len == 0)
		return bin_trailer(r, crc);
	if (len > BLOCK_MAX)
		return corrupt(r, "block length %u over the limit of %u", len, BLOCK_MAX);
	if (trace_src_fill(&r->src, BLOCK_HDR_LEN + (size_t)len))
		return trace_reader_fail(r, -EIO, 0, 0, "read error");
	if (trace_src_avail(&r->src) < BLOCK_HDR_LEN + (size_t)len)
		return corrupt(r, "truncated block (%zu of %u bytes)",
		               trace_src_avail(&r->src) - BLOCK_HDR_LEN, len);
	p = r->src.p;
	if (trace_crc32c(0, p + BLOCK_HDR_LEN, len) != crc)
		return corrupt(r, "block checksum mismatch");
	st->chain = trace_crc32c(st->chain, p + 4, 4);
	st->q = p + BLOCK_HDR_LEN;
	st->end = st->q + len;
	st->blk_total = BLOCK_HDR_LEN + (size_t)len;
	st->in_block = true;
	return 0;
}

static bool get_operand(struct bin_regs *g, enum trace_op_class cls, const uint8_t **q,
                        const uint8_t *end, uint64_t *v)
{
	int reg = op_reg(cls);

	if (!get_varint(q, end, v))
		return false;
	if (reg >= 0)
		*v = g->last[reg] += unzigzag(*v);
	return true;
}

static int get_list(struct trace_reader *r, const uint8_t **q, const uint8_t *end,
                    struct trace_expect *e)
{
	uint64_t nr, cursor = 0, gap, span;

	if (!get_varint(q, end, &nr) || nr > (uint64_t)(end - *q) / 2)
		return corrupt(r, "bad page-list length");
	if (trace_reader_reserve_ranges(r, nr ? nr : 1))
		return trace_reader_fail(r, -ENOMEM, 0, 0, "out of memory");
	for (uint64_t i = 0; i < nr; i++) {
		struct trace_range *rg = &r->ranges[i];

		if (!get_varint(q, end, &gap) || !get_varint(q, end, &span))
			return corrupt(r, "truncated page list");
		rg->first = cursor + gap;
		rg->last = rg->first + span;
		if (rg->first < cursor || rg->last < rg->first ||
		    (i + 1 < nr && rg->last >= UINT64_MAX - 1))
			return corrupt(r, "page list overflows");
		cursor = rg->last + 2; /* ranges are disjoint and non-adjacent */
	}
	e->ranges = r->ranges;
	e->nr_ranges = (size_t)nr;
	return 0;
}

static int get_expect(struct trace_reader *r, unsigned ek, const uint8_t **q, const uint8_t *end,
                      struct trace_expect *e)
{
	e->kind = (enum trace_expect_kind)ek;
	switch (ek) {
	case TRACE_EXPECT_VALUE:
		if (!get_varint(q, end, &e->value))
			return -1;
		e->value = r->bin->regs.last[REG_RVAL] += unzigzag(e->value);
		return 0;
	case TRACE_EXPECT_PF:
		return get_varint(q, end, &e->value) ? 0 : -1;
	case TRACE_EXPECT_LIST:
		return get_list(r, q, end, e);
	case TRACE_EXPECT_NONE:
	case TRACE_EXPECT_OK:
	case TRACE_EXPECT_GP:
	case TRACE_EXPECT_UD:
		return 0;
	default:
		return corrupt(r, "unknown expectation kind %u", ek);
	}
}

/* A vCPU switch pseudo record: the vCPU of the following records. */
static int get_vcpu_switch(struct trace_reader *r, const uint8_t **q, const uint8_t *end,
                           unsigned *op)
{
	uint64_t v;

	if (*op >> 5 || !get_varint(q, end, &v) || v > UINT32_MAX || *q == end)
		return corrupt(r, "bad vCPU switch");
	r->bin->regs.vcpu = (uint32_t)v;
	*op = *(*q)++;
	if ((*op & 31) == OP_VCPU)
		return corrupt(r, "two vCPU switches in a row");
	return 0;
}

static int decode_record(struct trace_reader *r, struct trace_record *rec)
{
	struct trace_bin_state *st = r->bin;
	const uint8_t *q = st->q, *end = st->end;
	const struct trace_kind_info *ki;
	unsigned op = *q++;
	uint64_t dline;
	int err;

	if ((op & 31) == OP_VCPU && get_vcpu_switch(r, &q, end, &op))
		return r->err;
	if ((op & 31) >= TRACE_NR_KINDS)
		return corrupt(r, "unknown record kind %u", op & 31);
	ki = &trace_kinds[op & 31];
	*rec = (struct trace_record){.kind = (enum trace_kind)(op & 31), .vcpu = st->regs.vcpu};
	if (!get_varint(&q, end, &dline))
		goto truncated;
	rec->line = st->regs.line += 1 + unzigzag(dline);
	for (unsigned k = 0; k < ki->nr_ops; k++)
		if (!get_operand(&st->regs, (enum trace_op_class)ki->cls[k], &q, end, &rec->op[k]))
			goto truncated;
	err = get_expect(r, op >> 5, &q, end, &rec->expect);
	if (err == -1)
		goto truncated;
	if (err)
		return err;
	st->q = q;
	return 0;
truncated:
	st->q = q;
	return corrupt(r, "record truncated or malformed");
}

int trace_bin_read(struct trace_reader *r, struct trace_record *rec)
{
	struct trace_bin_state *st = r->bin;
	struct trace_fault f;

	while (!st->done) {
		if (!st->in_block) {
			if (bin_next_block(r))
				return r->err;
			continue;
		}
		if (st->q == st->end) {
			trace_src_skip(&r->src, st->blk_total);
			st->in_block = false;
			continue;
		}
		if (decode_record(r, rec))
			return r->err;
		st->count++;
		if (trace_check_record(&r->chk, rec, &f))
			return trace_reader_fail(r, -EINVAL, 0, 0, "record %llu (line %llu): %s",
			                         (unsigned long long)st->count,
			                         (unsigned long long)rec->line, f.msg);
		return 1;
	}
	if (r->chk.records == 0)
		return trace_reader_fail(r, -EINVAL, 0, 0, "no 'shadowmmu-trace 1' header record");
	return 0;
}

/* ---- encoding --------------------------------------------------------------- */
struct trace_bin_enc {
	uint8_t *blk;    /* block header room + payload being built */
	size_t len, cap; /* payload bytes, allocation */
	struct bin_regs regs;
	uint32_t chain;  /* CRC-32C over the block CRCs written */
	uint64_t count;  /* records written */
	long header_pos; /* where the header is, for the count; -1 if not seekable */
};

static int enc_reserve(struct trace_bin_enc *e, size_t n)
{
	size_t cap = e->cap;
	uint8_t *nb;

	if (BLOCK_HDR_LEN + e->len + n <= cap)
		return 0;
	if (e->len + n > BLOCK_MAX)
		return -E2BIG;
	while (BLOCK_HDR_LEN + e->len + n > cap)
		cap *= 2;
	nb = realloc(e->blk, cap);
	if (!nb)
		return -ENOMEM;
	e->blk = nb;
	e->cap = cap;
	return 0;
}

static int enc_flush_block(struct trace_writer *w)
{
	struct trace_bin_enc *e = w->bin;
	uint32_t crc;

	if (e->len == 0)
		return 0;
	crc = trace_crc32c(0, e->blk + BLOCK_HDR_LEN, e->len);
	put_le32(e->blk, (uint32_t)e->len);
	put_le32(e->blk + 4, crc);
	e->chain = trace_crc32c(e->chain, e->blk + 4, 4);
	if (fwrite(e->blk, 1, BLOCK_HDR_LEN + e->len, w->f) != BLOCK_HDR_LEN + e->len)
		return -EIO;
	e->len = 0;
	return 0;
}

int trace_bin_writer_open(struct trace_writer *w)
{
	uint8_t hdr[HEADER_LEN] = {0};
	struct trace_bin_enc *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->cap = 2 * BLOCK_TARGET;
	e->blk = malloc(e->cap);
	if (!e->blk) {
		free(e);
		return -ENOMEM;
	}
	w->bin = e;
	e->header_pos = ftell(w->f);
	memcpy(hdr, TRACE_BIN_MAGIC, TRACE_BIN_MAGIC_LEN);
	hdr[8] = BIN_VERSION;
	put_le64(hdr + 16, COUNT_UNKNOWN);
	put_le32(hdr + 12, header_crc(hdr));
	if (fwrite(hdr, 1, HEADER_LEN, w->f) != HEADER_LEN)
		return trace_bin_writer_close(w), -EIO;
	return 0;
}

static uint8_t *put_operand(struct bin_regs *g, enum trace_op_class cls, uint8_t *p, uint64_t v)
{
	int reg = op_reg(cls);

	if (reg < 0)
		return put_varint(p, v);
	p = put_varint(p, zigzag(v - g->last[reg]));
	g->last[reg] = v;
	return p;
}

static uint8_t *put_list(uint8_t *p, const struct trace_expect *x)
{
	uint64_t cursor = 0;

	p = put_varint(p, x->nr_ranges);
	for (size_t i = 0; i < x->nr_ranges; i++) {
		p = put_varint(p, x->ranges[i].first - cursor);
		p = put_varint(p, x->ranges[i].last - x->ranges[i].first);
		cursor = x->ranges[i].last + 2;
	}
	return p;
}

static uint8_t *encode_record(struct bin_regs *g, uint8_t *p, const struct trace_record *rec)
{
	const struct trace_kind_info *ki = &trace_kinds[rec->kind];

	if (rec->vcpu != g->vcpu) {
		*p++ = OP_VCPU;
		p = put_varint(p, rec->vcpu);
		g->vcpu = rec->vcpu;
	}
	*p++ = (uint8_t)(rec->kind | rec->expect.kind << 5);
	p = put_varint(p, zigzag(rec->line - g->line - 1));
	g->line = rec->line;
	for (unsigned k = 0; k < ki->nr_ops; k++)
		p = put_operand(g, (enum trace_op_class)ki->cls[k], p, rec->op[k]);
	if (rec->expect.kind == TRACE_EXPECT_VALUE) {
		p = put_varint(p, zigzag(rec->expect.value - g->last[REG_RVAL]));
		g->last[REG_RVAL] = rec->expect.value;
	} else if (rec->expect.kind == TRACE_EXPECT_PF)
		p = put_varint(p, rec->expect.value);
	else if (rec->expect.kind == TRACE_EXPECT_LIST)
		p = put_list(p, &rec->expect);
	return p;
}

int trace_bin_writer_put(struct trace_writer *w, const struct trace_record *rec)
{
	struct trace_bin_enc *e = w->bin;
	const struct trace_expect *x = &rec->expect;
	size_t need = MAX_RECORD;
	uint8_t *start, *p;
	int err;

	if ((unsigned)rec->kind >= TRACE_NR_KINDS || (unsigned)x->kind >= TRACE_NR_EXPECTS)
		return -EINVAL;
	if (x->kind == TRACE_EXPECT_LIST) {
		if (!trace_ranges_normal(x->ranges, x->nr_ranges) || x->nr_ranges > BLOCK_MAX / 2)
			return -EINVAL;
		need += x->nr_ranges * 20;
	}
	err = enc_reserve(e, need);
	if (err)
		return err;
	start = e->blk + BLOCK_HDR_LEN + e->len;
	p = encode_record(&e->regs, start, rec);
	e->len += (size_t)(p - start);
	e->count++;
	return e->len >= BLOCK_TARGET ? enc_flush_block(w) : 0;
}

static int enc_finish(struct trace_writer *w)
{
	struct trace_bin_enc *e = w->bin;
	uint8_t tail[BLOCK_HDR_LEN + TRAILER_LEN] = {0}, hdr[HEADER_LEN] = {0};
	int err = enc_flush_block(w);
	long end;

	if (err)
		return err;
	put_le64(tail + BLOCK_HDR_LEN, e->count);
	put_le32(tail + BLOCK_HDR_LEN + 8, e->chain);
	put_le32(tail + BLOCK_HDR_LEN + 12, trace_crc32c(0, tail + BLOCK_HDR_LEN, 12));
	if (fwrite(tail, 1, sizeof(tail), w->f) != sizeof(tail))
		return -EIO;
	/* Patch the header's record count (and CRC) where the output allows it. */
	memcpy(hdr, TRACE_BIN_MAGIC, TRACE_BIN_MAGIC_LEN);
	hdr[8] = BIN_VERSION;
	put_le64(hdr + 16, e->count);
	put_le32(hdr + 12, header_crc(hdr));
	end = ftell(w->f);
	if (e->header_pos >= 0 && end >= 0 && fseek(w->f, e->header_pos, SEEK_SET) == 0) {
		if (fwrite(hdr, 1, HEADER_LEN, w->f) != HEADER_LEN)
			return -EIO;
		if (fseek(w->f, end, SEEK_SET))
			return -EIO;
	}
	return 0;
}

int trace_bin_writer_close(struct trace_writer *w)
{
	int err = 0;

	if (!w->bin)
		return 0;
	if (!w->err)
		err = enc_finish(w);
	free(w->bin->blk);
	free(w->bin);
	w->bin = NULL;
	return err;
}
