/* The audit's optional native accelerator (copy_rows.py is the reference).
 *
 * check_rows() walks a binary COPY chunk of the `audit_copy` query exactly as
 * copy_rows._check_from does: the same fixed-width head, the same chain entry
 * and v2 leaf bytes (chain.py, leaf.py), hashed piecewise straight from the
 * buffer with the GIL released. It stops at the first row it cannot confirm
 * (a break: the Python reader then names it) and, before the leaf of a row
 * whose metadata or payload it cannot read with certainty (an escape, a
 * whitespace, a non-ASCII recorded_at, deep nesting, anything malformed), it
 * hands that row back, so msgspec decides it as it always has
 * (_chunkhash_json.h reads the JSON).
 *
 * merkle_parents() hashes one level of the Merkle tree (compact_range.py).
 *
 * Every length is checked against the buffer before it is read.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* memmem */
/* SHA256_Init and friends: deprecated by OpenSSL 3, yet the cheapest per call. */
#define OPENSSL_API_COMPAT 0x10101000L
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "_chunkhash_json.h"

#define COLUMNS 8
/* >hiqiii32si32si: the field count, the (length, value) pairs of the
 * fixed-width columns, and the stream id's length. */
#define HEAD_SIZE (2 + 4 + 8 + 4 + 4 + 4 + 32 + 4 + 32 + 4)
#define PREFIX 4

enum { STOP_END = 0, STOP_BREAK = 1, STOP_HANDBACK = 2 };

static int32_t be32(ptr p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

static int64_t be64(ptr p) {
    return (int64_t)(((uint64_t)(uint32_t)be32(p) << 32) | (uint32_t)be32(p + 4));
}

/* ---- Hashing ---- */

static const char HEX[] = "0123456789abcdef";

static void hexlify(const unsigned char *digest, char *out) {
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
}

/* Python's %d: decimal, with a sign when negative. */
static size_t decimal(int64_t value, char *out) {
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (value < 0) out[len++] = '-';
    while (n) out[len++] = tmp[--n];
    return len;
}

/* SHA-256 fed through a buffer: a row's entry and leaf are some fifteen
 * short pieces each, and a SHA256_Update call a piece cost more than copying
 * them into whole blocks first. */
typedef struct {
    SHA256_CTX ctx;
    size_t n;
    unsigned char buf[1024];
} Hasher;

static void h_init(Hasher *h) {
    SHA256_Init(&h->ctx);
    h->n = 0;
}

static void h_put(Hasher *h, const void *data, size_t len) {
    if (h->n + len > sizeof h->buf) {
        SHA256_Update(&h->ctx, h->buf, h->n);
        h->n = 0;
        if (len > sizeof h->buf) {
            SHA256_Update(&h->ctx, data, len);
            return;
        }
    }
    memcpy(h->buf + h->n, data, len);
    h->n += len;
}

static void h_final(Hasher *h, unsigned char *out) {
    SHA256_Update(&h->ctx, h->buf, h->n);
    SHA256_Final(out, &h->ctx);
}

#define LIT(h, s) h_put((h), (s), sizeof(s) - 1)

typedef struct {
    int64_t pos;
    int32_t version;
    ptr digest, stream, etype, payload, metadata, end;
    size_t ls, lt, lp, lm;
} Row;

/* The closing members both hashes share, in their sorted-key order. */
static void put_stream_type_version(Hasher *h, const Row *r) {
    char num[24];
    LIT(h, ",\"stream\":\"");
    h_put(h, r->stream, r->ls);
    LIT(h, "\",\"type\":\"");
    h_put(h, r->etype, r->lt);
    LIT(h, "\",\"version\":");
    h_put(h, num, decimal(r->version, num));
    LIT(h, "}");
}

static int entry_matches(const Row *r, ptr prev) {
    Hasher h;
    unsigned char out[32];
    char num[24];
    h_init(&h);
    h_put(&h, prev, 32);
    LIT(&h, "{\"metadata\":");
    h_put(&h, r->metadata, r->lm);
    LIT(&h, ",\"payload\":");
    h_put(&h, r->payload, r->lp);
    LIT(&h, ",\"position\":");
    h_put(&h, num, decimal(r->pos, num));
    put_stream_type_version(&h, r);
    h_final(&h, out);
    return memcmp(out, r->digest, 32) == 0;
}

static void leaf_hash(const Row *r, ptr at, size_t lat, ptr doc, size_t ldoc, unsigned char *out) {
    Hasher h;
    char hex[64], num[24];
    h_init(&h);
    LIT(&h, "\x00{\"chain_hash\":\"");
    hexlify(r->digest, hex);
    h_put(&h, hex, 64);
    LIT(&h, "\",");
    if (doc != NULL) {
        unsigned char d[32];
        SHA256(doc, ldoc, d);
        hexlify(d, hex);
        LIT(&h, "\"document_sha256\":\"");
        h_put(&h, hex, 64);
        LIT(&h, "\",");
    }
    LIT(&h, "\"leaf_version\":2,\"position\":");
    h_put(&h, num, decimal(r->pos, num));
    LIT(&h, ",\"recorded_at\":");
    h_put(&h, at, lat);
    put_stream_type_version(&h, r);
    h_final(&h, out);
}

/* ---- The chunk ---- */

typedef struct {
    ptr buf;
    size_t offset, end, size; /* end: where the trailer should start */
    int64_t position;
    unsigned char prev[32];
    Py_ssize_t rows;
    unsigned char *leaves; /* NULL: chain only */
    int stop;
    int partial; /* more of the chunk is to come: check only rows wholly before end */
} Walk;

/* A variable field at *at: its length word, then its bytes. 1 with *at moved
 * past it, 0 if it is NULL or its length is negative (a break), -1 if the
 * length word or the bytes reach past w->size. */
static int read_field(const Walk *w, size_t *at, ptr *field, size_t *len) {
    int32_t n;
    if (*at + PREFIX > w->size) return -1;
    n = be32(w->buf + *at);
    if (n < 0) return 0;
    /* The sum stays far below SIZE_MAX: an int32 and an offset within the buffer. */
    if (*at + PREFIX + (size_t)n > w->size) return -1;
    *field = w->buf + *at + PREFIX, *len = (size_t)n;
    *at += PREFIX + (size_t)n;
    return 1;
}

/* The row at w->offset, with the guards check_rows applies: 1, 0 if it is a
 * break, -1 if it reaches past w->size. Past the buffer, the Python reader
 * stops there too; up to its end, even the trailer's two bytes are read as
 * the row's, as there. */
static int read_row(const Walk *w, Row *r) {
    ptr h = w->buf + w->offset;
    /* The head's layout: see HEAD_SIZE (each value after its int4 length). */
    int16_t count = (int16_t)((h[0] << 8) | h[1]);
    int32_t l_ver = be32(h + 14), l_prev = be32(h + 22), l_hash = be32(h + 58);
    size_t at = w->offset + HEAD_SIZE - PREFIX; /* the stream id's length word */
    int read;
    if (count != COLUMNS || l_ver != 4 || l_prev != 32 || l_hash != 32) return 0;
    r->pos = be64(h + 6);
    r->version = be32(h + 18);
    if (w->position == INT64_MAX || r->pos != w->position + 1 || memcmp(h + 26, w->prev, 32) != 0) return 0;
    r->digest = h + 62;
    if ((read = read_field(w, &at, &r->stream, &r->ls)) != 1 || (read = read_field(w, &at, &r->etype, &r->lt)) != 1
        || (read = read_field(w, &at, &r->payload, &r->lp)) != 1
        || (read = read_field(w, &at, &r->metadata, &r->lm)) != 1)
        return read;
    r->end = w->buf + at;
    return 1;
}

static void walk(Walk *w) {
    ptr last_meta = NULL, at = NULL, at_stop = NULL;
    size_t last_lm = 0;
    Row r;
    w->stop = STOP_END;
    while (w->offset + HEAD_SIZE <= w->end) {
        ptr doc = NULL, doc_stop = NULL;
        int read = read_row(w, &r);
        if (read < 0 && w->partial) return; /* the rest of the row is yet to come */
        if (read <= 0 || !entry_matches(&r, w->prev)) {
            w->stop = STOP_BREAK;
            return;
        }
        if (w->leaves != NULL) {
            /* The events of one append share their metadata bytes. */
            if (last_meta == NULL || r.lm != last_lm || memcmp(r.metadata, last_meta, r.lm) != 0) {
                last_meta = NULL;
                if (!find_member(r.metadata, r.metadata + r.lm, "recorded_at", 11, plain_ascii_string, &at, &at_stop))
                    break;
                last_meta = r.metadata, last_lm = r.lm;
            }
            if (has_document_member(r.payload, r.lp)
                && !find_member(r.payload, r.payload + r.lp, "document", 8, NULL, &doc, &doc_stop))
                break;
            /* No recorded_at: msgspec's default, the empty string. */
            leaf_hash(&r, at == NULL ? (ptr) "\"\"" : at, at == NULL ? 2 : (size_t)(at_stop - at), doc,
                      doc == NULL ? 0 : (size_t)(doc_stop - doc), w->leaves + 32 * w->rows);
        }
        w->position = r.pos;
        memcpy(w->prev, r.digest, 32);
        w->offset = (size_t)(r.end - w->buf);
        w->rows++;
    }
    /* Left the loop early: a row whose JSON Python must read. */
    if (w->offset + HEAD_SIZE <= w->end) w->stop = STOP_HANDBACK;
}

static PyObject *check_rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buffer, prev;
    Py_ssize_t offset;
    long long position;
    PyObject *leaves, *result = NULL;
    Walk w;
    w.leaves = NULL;
    w.partial = 0;
    if (!PyArg_ParseTuple(args, "y*nLy*O|p", &buffer, &offset, &position, &prev, &leaves, &w.partial)) return NULL;
    if (prev.len != 32 || offset < 0 || offset > buffer.len
        || (leaves != Py_None && !PyList_Check(leaves))) {
        PyErr_SetString(PyExc_ValueError, "check_rows: a 32-byte prev, an offset within the buffer, a list or None");
        goto done;
    }
    w.buf = buffer.buf, w.offset = (size_t)offset, w.end = buffer.len < 2 ? 0 : (size_t)buffer.len - 2;
    /* A part of a chunk: a row is checked only if it ends before the last two
     * bytes, so it is checked exactly as in the whole chunk, where those two
     * could be the trailer; the Python reader treats the same row alike. */
    w.size = w.partial ? w.end : (size_t)buffer.len;
    w.position = position, w.rows = 0, w.stop = STOP_END;
    memcpy(w.prev, prev.buf, 32);
    if (leaves != Py_None) {
        /* At most one row per head's worth of bytes. */
        w.leaves = PyMem_RawMalloc(32 * ((w.end > w.offset ? w.end - w.offset : 0) / HEAD_SIZE + 1));
        if (w.leaves == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    walk(&w);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; w.leaves != NULL && i < w.rows; i++) {
        PyObject *leaf = PyBytes_FromStringAndSize((const char *)w.leaves + 32 * i, 32);
        int failed = leaf == NULL || PyList_Append(leaves, leaf) < 0;
        Py_XDECREF(leaf);
        if (failed) goto done;
    }
    result = Py_BuildValue("nLy#ni", (Py_ssize_t)w.offset, (long long)w.position, w.prev, (Py_ssize_t)32, w.rows,
                           w.stop);
done:
    PyMem_RawFree(w.leaves);
    PyBuffer_Release(&buffer);
    PyBuffer_Release(&prev);
    return result;
}

/* The parents of one level: SHA-256(0x01 || nodes[i] || nodes[i + 1]) for
 * i = start, start + 2, ... while a right sibling exists (RFC 6962). */
static PyObject *merkle_parents(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *nodes, *parents;
    Py_ssize_t start, n;
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &nodes, &start)) return NULL;
    if (start < 0) start = 0;
    n = PyList_GET_SIZE(nodes);
    parents = PyList_New(start + 1 < n ? (n - start) / 2 : 0);
    if (parents == NULL) return NULL;
    for (Py_ssize_t i = start, j = 0; i + 1 < n; i += 2, j++) {
        PyObject *a = PyList_GET_ITEM(nodes, i), *b = PyList_GET_ITEM(nodes, i + 1), *node;
        SHA256_CTX ctx;
        unsigned char out[32];
        if (!PyBytes_Check(a) || !PyBytes_Check(b)) {
            Py_DECREF(parents);
            PyErr_SetString(PyExc_TypeError, "merkle_parents: nodes must be bytes");
            return NULL;
        }
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, "\x01", 1);
        SHA256_Update(&ctx, PyBytes_AS_STRING(a), (size_t)PyBytes_GET_SIZE(a));
        SHA256_Update(&ctx, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        SHA256_Final(out, &ctx);
        node = PyBytes_FromStringAndSize((const char *)out, 32);
        if (node == NULL) {
            Py_DECREF(parents);
            return NULL;
        }
        PyList_SET_ITEM(parents, j, node);
    }
    return parents;
}

/* A row's leaf pieces in C, for the tests: the recorded_at JSON and the
 * document span the walk would use, or None where it hands the row back. */
static PyObject *recorded_at_json(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer b;
    ptr at, stop;
    PyObject *result;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    if (!find_member(b.buf, (ptr)b.buf + b.len, "recorded_at", 11, plain_ascii_string, &at, &stop))
        result = Py_NewRef(Py_None);
    else if (at == NULL)
        result = PyBytes_FromStringAndSize("\"\"", 2);
    else
        result = PyBytes_FromStringAndSize((const char *)at, stop - at);
    PyBuffer_Release(&b);
    return result;
}

static PyObject *payload_document(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer b;
    ptr doc, stop;
    PyObject *result;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    if (!has_document_member(b.buf, (size_t)b.len))
        result = Py_BuildValue("(Oi)", Py_None, 1);
    else if (!find_member(b.buf, (ptr)b.buf + b.len, "document", 8, NULL, &doc, &stop))
        result = Py_BuildValue("(Oi)", Py_None, 0);
    else if (doc == NULL)
        result = Py_BuildValue("(Oi)", Py_None, 1);
    else
        result = Py_BuildValue("(y#i)", (const char *)doc, (Py_ssize_t)(stop - doc), 1);
    PyBuffer_Release(&b);
    return result;
}

static PyMethodDef METHODS[] = {
    {"check_rows", check_rows, METH_VARARGS, "Check a binary COPY chunk's rows from an offset (copy_rows.py)."},
    {"merkle_parents", merkle_parents, METH_VARARGS, "Hash one level of a Merkle tree into its parents."},
    {"recorded_at_json", recorded_at_json, METH_O, "The leaf's recorded_at, or None where Python decides."},
    {"payload_document", payload_document, METH_O, "(document or None, handled)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_chunkhash", NULL, -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__chunkhash(void) {
    PyObject *module = PyModule_Create(&MODULE);
    if (module == NULL) return NULL;
    if (PyModule_AddIntConstant(module, "STOP_END", STOP_END) < 0
        || PyModule_AddIntConstant(module, "STOP_BREAK", STOP_BREAK) < 0
        || PyModule_AddIntConstant(module, "STOP_HANDBACK", STOP_HANDBACK) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
