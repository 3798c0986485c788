/*
 * writer.c - records to the canonical text form, and the writer object that
 * emits a trace as canonical text or as the binary encoding (binary.c).
 *
 * The canonical form (docs/trace-format.md) is what the reader's records
 * print as, so text -> records -> text reaches it in one step and is stable
 * after that: one record per line, no comments or blank lines, fields
 * separated by one space, `@N ` only for a vCPU other than 0; addresses,
 * register and memory values and error codes in lower-case 0x-hex; counts,
 * IDs, access sizes, cpl/ac and page indexes in decimal; a byte length
 * (slot and host SIZE) in decimal with the largest K/M/G suffix that divides
 * it exactly; slot flags as ` ro` then ` log`; cpu features in the order of
 * the format's list; a LIST as sorted, merged N and N-M ranges or `-`.
 */
#include "trace/trace_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An snprintf-like appender: counts what it would write past the end. */
struct out {
	char *buf;
	size_t len; /* capacity */
	size_t n;   /* characters produced so far */
};

static void put_mem(struct out *o, const char *s, size_t n)
{
	if (o->n < o->len) {
		size_t room = o->len - o->n;

		memcpy(o->buf + o->n, s, n < room ? n : room);
	}
	o->n += n;
}

static void put_str(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void put_dec(struct out *o, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_mem(o, tmp + i, sizeof(tmp) - (size_t)i);
}

static void put_hex(struct out *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	put_mem(o, tmp + i, sizeof(tmp) - (size_t)i);
}

/* A byte length: 64M rather than 67108864, when a suffix divides it. */
static void put_bytes(struct out *o, uint64_t v)
{
	static const struct {
		unsigned shift;
		char suffix;
	} units[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};

	for (size_t i = 0; v && i < 3; i++) {
		if (v & ((1ull << units[i].shift) - 1))
			continue;
		put_dec(o, v >> units[i].shift);
		put_mem(o, &units[i].suffix, 1);
		return;
	}
	put_dec(o, v);
}

static void put_operand(struct out *o, enum trace_op_class cls, uint64_t v)
{
	switch (cls) {
	case TOP_DEC:
		put_dec(o, v);
		break;
	case TOP_BYTES:
		put_bytes(o, v);
		break;
	case TOP_ONOFF:
		put_str(o, v ? "on" : "off");
		break;
	default:
		put_hex(o, v);
		break;
	}
}

static void put_cpu(struct out *o, const struct trace_record *rec)
{
	for (unsigned f = 0; f < TRACE_CPU_NR_FEATURES; f++) {
		if (!(rec->op[0] & (1ull << f)))
			continue;
		put_mem(o, " ", 1);
		put_str(o, trace_cpu_names[f]);
		put_mem(o, "=", 1);
		put_dec(o, f == TRACE_CPU_MAXPHYADDR ? rec->op[2] : (rec->op[1] >> f) & 1);
	}
}

static void put_operands(struct out *o, const struct trace_record *rec)
{
	const struct trace_kind_info *ki = &trace_kinds[rec->kind];

	if (rec->kind == TRACE_CPU) {
		put_cpu(o, rec);
		return;
	}
	if (rec->kind == TRACE_MMU) {
		put_str(o, rec->op[0] == TRACE_MMU_TDP ? " tdp" : " shadow");
		if (rec->op[0] == TRACE_MMU_TDP) {
			put_str(o, " ept_ad=");
			put_dec(o, rec->op[1]);
		}
		return;
	}
	for (unsigned k = 0; k < ki->nr_ops; k++) {
		if (ki->cls[k] == TOP_SLOTF) {
			if (rec->op[k] & TRACE_SLOTF_RO)
				put_str(o, " ro");
			if (rec->op[k] & TRACE_SLOTF_LOG)
				put_str(o, " log");
			continue;
		}
		put_mem(o, " ", 1);
		put_operand(o, (enum trace_op_class)ki->cls[k], rec->op[k]);
	}
}

static void put_list(struct out *o, const struct trace_expect *e)
{
	if (e->nr_ranges == 0)
		put_mem(o, "-", 1);
	for (size_t i = 0; i < e->nr_ranges; i++) {
		if (i)
			put_mem(o, ",", 1);
		put_dec(o, e->ranges[i].first);
		if (e->ranges[i].last != e->ranges[i].first) {
			put_mem(o, "-", 1);
			put_dec(o, e->ranges[i].last);
		}
	}
}

static void put_expect(struct out *o, const struct trace_expect *e)
{
	if (e->kind == TRACE_EXPECT_NONE)
		return;
	put_str(o, " => ");
	switch (e->kind) {
	case TRACE_EXPECT_VALUE:
		put_hex(o, e->value);
		break;
	case TRACE_EXPECT_PF:
		put_str(o, "pf ");
		put_hex(o, e->value);
		break;
	case TRACE_EXPECT_LIST:
		put_list(o, e);
		break;
	default:
		put_str(o, trace_expect_names[e->kind]);
		break;
	}
}

static void put_record(struct out *o, const struct trace_record *rec)
{
	if (rec->vcpu) {
		put_mem(o, "@", 1);
		put_dec(o, rec->vcpu);
		put_mem(o, " ", 1);
	}
	put_str(o, trace_kinds[rec->kind].name);
	put_operands(o, rec);
	put_expect(o, &rec->expect);
}

int trace_format_record(const struct trace_record *rec, char *buf, size_t len)
{
	struct out o = {buf, len, 0};

	if ((unsigned)rec->kind >= TRACE_NR_KINDS)
		return -EINVAL;
	put_record(&o, rec);
	if (len)
		buf[o.n < len ? o.n : len - 1] = 0;
	return (int)o.n;
}

/* ---- the writer object ---------------------------------------------------- */
#define TEXT_FLUSH (64u << 10)

static int text_flush(struct trace_writer *w)
{
	if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len)
		return -EIO;
	w->len = 0;
	return 0;
}

static int text_put(struct trace_writer *w, const struct trace_record *rec)
{
	struct out o;
	int n = trace_format_record(rec, NULL, 0);

	if (n < 0)
		return n;
	if (w->cap - w->len < (size_t)n + 1) {
		size_t cap = w->cap;
		char *nb;

		while (cap - w->len < (size_t)n + 1)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = cap;
	}
	o = (struct out){w->buf + w->len, (size_t)n, 0};
	put_record(&o, rec);
	w->len += (size_t)n;
	w->buf[w->len++] = '\n';
	return w->len >= TEXT_FLUSH ? text_flush(w) : 0;
}

int trace_writer_open(struct trace_writer **wp, FILE *f, enum trace_format fmt)
{
	struct trace_writer *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->f = f;
	w->fmt = fmt;
	if (fmt == TRACE_FORMAT_BINARY)
		err = trace_bin_writer_open(w);
	else if (fmt == TRACE_FORMAT_TEXT)
		err = (w->buf = malloc(w->cap = 2 * TEXT_FLUSH)) ? 0 : -ENOMEM;
	else
		err = -EINVAL;
	if (err) {
		free(w->buf);
		free(w);
		return err;
	}
	*wp = w;
	return 0;
}

int trace_writer_put(struct trace_writer *w, const struct trace_record *rec)
{
	if (w->err)
		return w->err;
	if (w->fmt == TRACE_FORMAT_BINARY)
		w->err = trace_bin_writer_put(w, rec);
	else
		w->err = text_put(w, rec);
	return w->err;
}

int trace_writer_close(struct trace_writer *w)
{
	int err = w->err;

	if (w->fmt == TRACE_FORMAT_BINARY) {
		int e = trace_bin_writer_close(w);

		err = err ? err : e;
	} else if (!err) {
		err = text_flush(w);
	}
	if (!err && fflush(w->f))
		err = -EIO;
	free(w->buf);
	free(w);
	return err;
}

int trace_convert(struct trace_reader *in, struct trace_writer *out)
{
	struct trace_record rec;
	int rc;

	while ((rc = trace_read(in, &rec)) == 1) {
		rc = trace_writer_put(out, &rec);
		if (rc)
			return rc;
	}
	return rc;
}
