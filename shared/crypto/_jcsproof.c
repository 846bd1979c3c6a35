/* The verifier's optional native accelerator for eddsa-jcs-2022 proofs
 * (eddsa_jcs.prepare_proof, jcs.canonicalize and multibase.multibase_decode
 * are the reference; built by setup.py, loaded by shared/crypto/native.py).
 *
 * prepare_jcs() does a lone proof's JSON work in one call: the proof's
 * checks (eddsa_jcs._is_own_proof but for `created`, and starts_with for
 * contexts of strings), the RFC 8785
 * bytes of the proof options (the proof less its proofValue) and of the
 * document less its proof (its @context replaced by the proof's), the
 * SHA-256 of both, and the base58btc decoding of the proofValue.
 *
 * It writes JCS only where it is certain to give the Python path's bytes:
 * exact dict/list/str/int/float/bool/None; integers within +-(2**53 - 1);
 * floats only when integral and within that range (printed as integers,
 * as jcs._jcs_number does); no lone surrogate; no key above U+FFFF (where
 * UTF-16 order differs from code point order); at most MAX_DEPTH levels.
 * Anything else, and any proofValue that is not exactly 64 bytes of
 * base58btc, is "not handled" (None): the Python path then decides, with
 * its own answer or refusal.
 *
 * plain_bytes() and depth_proven_within() are the one-pass forms of
 * jcs._python_plain_bytes and untrusted.json_depth_within, which a
 * request's body goes through before its documents are decoded.
 *
 * ed25519_verify() calls libsodium's crypto_sign_verify_detached, which
 * bind_ed25519() finds in the library PyNaCl bundles (ed25519.py): the same
 * function as through ctypes, without ctypes' per-call conversions.
 */
#define PY_SSIZE_T_CLEAN
/* SHA256 (one-shot): deprecated by OpenSSL 3, yet the cheapest per call. */
#define OPENSSL_API_COMPAT 0x10101000L
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_SAFE_INT 9007199254740991LL
#define SIGNATURE_BYTES 64
#define KEY_BYTES 32
/* ceil(64 * log(256) / log(58)): multibase.multibase_decode's length bound. */
#define MAX_SIGNATURE_DIGITS 88
#define SORT_ON_STACK 32

enum { OK = 0, NOT_HANDLED = 1, FAILED = -1 /* an exception is set */ };

/* ---- An output buffer, on the stack until it outgrows it ---- */

typedef struct {
    char *p;
    size_t n, cap;
    char local[8192];
} Buf;

static void b_init(Buf *b) {
    b->p = b->local;
    b->n = 0;
    b->cap = sizeof b->local;
}

static void b_free(Buf *b) {
    if (b->p != b->local) PyMem_Free(b->p);
}

static int b_grow(Buf *b, size_t extra) {
    size_t cap = b->cap;
    while (cap - b->n < extra) {
        if (cap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return FAILED;
        }
        cap *= 2;
    }
    char *p = PyMem_Malloc(cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    memcpy(p, b->p, b->n);
    b_free(b);
    b->p = p;
    b->cap = cap;
    return OK;
}

#define ENSURE(b, extra) \
    do { \
        if ((b)->cap - (b)->n < (size_t)(extra) && b_grow((b), (extra)) != OK) return FAILED; \
    } while (0)

static int b_put(Buf *b, const char *s, size_t len) {
    ENSURE(b, len);
    memcpy(b->p + b->n, s, len);
    b->n += len;
    return OK;
}

static int b_char(Buf *b, char c) {
    ENSURE(b, 1);
    b->p[b->n++] = c;
    return OK;
}

/* ---- Eight bytes at a time (exact as a yes/no: borrows only add false alarms above a true one) ---- */

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

static uint64_t load8(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Some byte of `w` equals `c`. */
static int has_byte(uint64_t w, unsigned char c) {
    uint64_t x = w ^ (ONES * c);
    return ((x - ONES) & ~x & HIGH) != 0;
}

/* ---- Strings: JCS escapes exactly '"', '\\' and U+0000..U+001F ---- */

static const char HEX[] = "0123456789abcdef";

/* 0: copied as is; otherwise the letter after the backslash ('u': \u00xx). */
static char ESCAPE[128];

static void init_escapes(void) {
    for (int c = 0; c < 0x20; c++) ESCAPE[c] = 'u';
    ESCAPE['\b'] = 'b';
    ESCAPE['\t'] = 't';
    ESCAPE['\n'] = 'n';
    ESCAPE['\f'] = 'f';
    ESCAPE['\r'] = 'r';
    ESCAPE['"'] = '"';
    ESCAPE['\\'] = '\\';
}

static int put_escaped_ascii(Buf *b, unsigned char c) {
    char e = ESCAPE[c];
    if (e == 'u') {
        char esc[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
        return b_put(b, esc, 6);
    }
    char esc[2] = {'\\', e};
    return b_put(b, esc, 2);
}

/* Whether any of the 8 ASCII bytes in `w` needs an escape (below 0x20, '"' or '\\'). */
static int word_needs_escape(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    /* Exact as a yes/no for ASCII bytes: some byte below 0x20, or equal to either. */
    return ((((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & high) != 0;
}

/* The ASCII characters of `s`, escaped, in runs copied whole (most strings have none to escape). */
static int put_ascii(Buf *b, const unsigned char *s, Py_ssize_t len) {
    Py_ssize_t start = 0, i = 0;
    ENSURE(b, len);
    while (i < len) {
        uint64_t w;
        if (i + 8 <= len) {
            memcpy(&w, s + i, 8);
            if (!word_needs_escape(w)) {
                i += 8;
                continue;
            }
        }
        Py_ssize_t end = i + 8 < len ? i + 8 : len;
        for (; i < end; i++) {
            if (ESCAPE[s[i]]) {
                if (b_put(b, (const char *)s + start, (size_t)(i - start)) != OK || put_escaped_ascii(b, s[i]) != OK)
                    return FAILED;
                start = i + 1;
            }
        }
    }
    return b_put(b, (const char *)s + start, (size_t)(len - start));
}

/* One code point as UTF-8; a surrogate (lone, as str holds no pairs) is not handled. */
static int put_code_point(Buf *b, Py_UCS4 c) {
    char out[4];
    if (c < 0x80) return ESCAPE[c] ? put_escaped_ascii(b, (unsigned char)c) : b_char(b, (char)c);
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return b_put(b, out, 2);
    }
    if (c >= 0xD800 && c <= 0xDFFF) return NOT_HANDLED;
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return b_put(b, out, 3);
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return b_put(b, out, 4);
}

static int put_string(Buf *b, PyObject *s) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    int rc = b_char(b, '"');
    if (rc != OK) return rc;
    if (PyUnicode_IS_ASCII(s)) {
        rc = put_ascii(b, PyUnicode_1BYTE_DATA(s), len);
    } else {
        int kind = PyUnicode_KIND(s);
        const void *data = PyUnicode_DATA(s);
        ENSURE(b, len);
        for (Py_ssize_t i = 0; i < len && rc == OK; i++) rc = put_code_point(b, PyUnicode_READ(kind, data, i));
    }
    return rc == OK ? b_char(b, '"') : rc;
}

/* ---- Numbers ---- */

static int put_integer(Buf *b, long long value) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", value);
    return b_put(b, tmp, (size_t)n);
}

static int put_int(Buf *b, PyObject *v) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (value == -1 && PyErr_Occurred()) return FAILED;
    if (overflow || value > MAX_SAFE_INT || value < -MAX_SAFE_INT) return NOT_HANDLED;
    return put_integer(b, value);
}

static int put_float(Buf *b, PyObject *v) {
    double d = PyFloat_AS_DOUBLE(v);
    if (!isfinite(d) || d != floor(d) || fabs(d) > (double)MAX_SAFE_INT) return NOT_HANDLED;
    return put_integer(b, (long long)d); /* -0.0 prints "0", as "%d" % -0.0 does */
}

/* ---- Containers ---- */

static int put_value(Buf *b, PyObject *v, int depth);

typedef struct {
    const char *key;
    Py_ssize_t len;
    PyObject *name, *value;
} Member;

/* UTF-8 byte order is code point order, which is UTF-16 order for keys of the BMP. */
static int member_order(const void *x, const void *y) {
    const Member *a = x, *b = y;
    int c = memcmp(a->key, b->key, (size_t)(a->len < b->len ? a->len : b->len));
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static void sort_members(Member *m, Py_ssize_t n) {
    if (n > 16) {
        qsort(m, (size_t)n, sizeof *m, member_order);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        Member x = m[i];
        Py_ssize_t j = i;
        for (; j > 0 && member_order(&m[j - 1], &x) > 0; j--) m[j] = m[j - 1];
        m[j] = x;
    }
}

/* A key's UTF-8 for sorting; not handled above U+FFFF or for a lone surrogate. */
static int key_bytes(PyObject *key, Member *m) {
    if (!PyUnicode_CheckExact(key) || PyUnicode_KIND(key) == PyUnicode_4BYTE_KIND) return NOT_HANDLED;
    if (PyUnicode_IS_ASCII(key)) {
        m->key = (const char *)PyUnicode_1BYTE_DATA(key);
        m->len = PyUnicode_GET_LENGTH(key);
        return OK;
    }
    m->key = PyUnicode_AsUTF8AndSize(key, &m->len);
    if (m->key == NULL) {
        PyErr_Clear(); /* a lone surrogate: the Python path raises its own error */
        return NOT_HANDLED;
    }
    return OK;
}

static int is_key(const Member *m, const char *name) {
    size_t len = strlen(name);
    return (size_t)m->len == len && memcmp(m->key, name, len) == 0;
}

/* `d` in JCS, less its member `skip` and with member `swap`'s value
 * replaced by `swapped` (when not NULL), at `depth` levels. */
static int put_object(Buf *b, PyObject *d, int depth, const char *skip, const char *swap, PyObject *swapped) {
    Py_ssize_t size = PyDict_GET_SIZE(d), n = 0, pos = 0;
    Member local[SORT_ON_STACK], *members = local;
    PyObject *key, *value;
    int rc = OK;
    if (size > SORT_ON_STACK) {
        members = PyMem_Malloc(sizeof(Member) * (size_t)size);
        if (members == NULL) {
            PyErr_NoMemory();
            return FAILED;
        }
    }
    while (PyDict_Next(d, &pos, &key, &value)) {
        Member *m = &members[n];
        if ((rc = key_bytes(key, m)) != OK) goto done;
        if (skip != NULL && is_key(m, skip)) continue;
        m->name = key;
        m->value = swap != NULL && swapped != NULL && is_key(m, swap) ? swapped : value;
        n++;
    }
    sort_members(members, n);
    if ((rc = b_char(b, '{')) != OK) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((i && (rc = b_char(b, ',')) != OK) || (rc = put_string(b, members[i].name)) != OK
            || (rc = b_char(b, ':')) != OK || (rc = put_value(b, members[i].value, depth + 1)) != OK)
            goto done;
    }
    rc = b_char(b, '}');
done:
    if (members != local) PyMem_Free(members);
    return rc;
}

static int put_array(Buf *b, PyObject *list, int depth) {
    int rc = b_char(b, '[');
    /* The list cannot change meanwhile: no Python code runs during the walk. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list) && rc == OK; i++) {
        if (i) rc = b_char(b, ',');
        if (rc == OK) rc = put_value(b, PyList_GET_ITEM(list, i), depth + 1);
    }
    return rc == OK ? b_char(b, ']') : rc;
}

static int put_value(Buf *b, PyObject *v, int depth) {
    if (depth > MAX_DEPTH) return NOT_HANDLED;
    if (PyUnicode_CheckExact(v)) return put_string(b, v);
    if (PyDict_CheckExact(v)) return put_object(b, v, depth, NULL, NULL, NULL);
    if (PyList_CheckExact(v)) return put_array(b, v, depth);
    if (v == Py_True) return b_put(b, "true", 4);
    if (v == Py_False) return b_put(b, "false", 5);
    if (v == Py_None) return b_put(b, "null", 4);
    if (PyLong_CheckExact(v)) return put_int(b, v);
    if (PyFloat_CheckExact(v)) return put_float(b, v);
    return NOT_HANDLED; /* tuples, subclasses, msgspec.Raw, any other type */
}

/* ---- base58btc ---- */

static signed char BASE58[128];

static void init_base58(void) {
    static const char ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    memset(BASE58, -1, sizeof BASE58);
    for (int i = 0; i < 58; i++) BASE58[(unsigned char)ALPHABET[i]] = (signed char)i;
}

/* The 64 bytes multibase_decode(`text`, size=64) returns, or NOT_HANDLED
 * where it raises: a prefix other than 'z', a foreign character, a length
 * other than 64 bytes (each leading '1' is one zero byte, as in based58). */
static int signature_of(PyObject *text, unsigned char out[SIGNATURE_BYTES]) {
    uint32_t limbs[SIGNATURE_BYTES / 4] = {0}; /* little-endian base 2**32 */
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text)) return NOT_HANDLED;
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t len = PyUnicode_GET_LENGTH(text), zeros = 0;
    if (len < 2 || s[0] != 'z' || len - 1 > MAX_SIGNATURE_DIGITS) return NOT_HANDLED;
    s++;
    len--;
    while (zeros < len && s[zeros] == '1') zeros++;
    /* Up to five digits at a time (58**5 < 2**32), as multibase.base58_encode groups them. */
    for (Py_ssize_t i = 0; i < len;) {
        uint64_t group = 0, scale = 1;
        for (int k = 0; k < 5 && i < len; k++, i++) {
            int digit = BASE58[s[i]];
            if (digit < 0) return NOT_HANDLED;
            group = group * 58 + (uint64_t)digit;
            scale *= 58;
        }
        uint64_t carry = group;
        for (int j = 0; j < SIGNATURE_BYTES / 4; j++) {
            carry += (uint64_t)limbs[j] * scale;
            limbs[j] = (uint32_t)carry;
            carry >>= 32;
        }
        if (carry) return NOT_HANDLED; /* more than 64 bytes */
    }
    for (int j = 0; j < SIGNATURE_BYTES / 4; j++) {
        uint32_t limb = limbs[SIGNATURE_BYTES / 4 - 1 - j];
        out[4 * j] = (unsigned char)(limb >> 24);
        out[4 * j + 1] = (unsigned char)(limb >> 16);
        out[4 * j + 2] = (unsigned char)(limb >> 8);
        out[4 * j + 3] = (unsigned char)limb;
    }
    Py_ssize_t leading = 0;
    while (leading < SIGNATURE_BYTES && out[leading] == 0) leading++;
    /* The decoded length is the '1's plus the number's own bytes. */
    return zeros == leading ? OK : NOT_HANDLED;
}

/* ---- jcs._python_plain_bytes, in one pass ---- */

static int json_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* What jcs._PLAIN_TABLE maps a byte to, and '\\' (where a surrogate escape may start) apart. */
static char PLAIN_CLASS[256];

static void init_plain_classes(void) {
    for (int c = 0; c < 256; c++) {
        PLAIN_CLASS[c] = c == '-' || (c >= '0' && c <= '9') ? '0'
                         : c == ':' || c == '[' || c == ',' || json_space((unsigned char)c) ? ':'
                         : c >= 0xF0 ? '!' : c == '\\' ? '\\' : 0;
    }
}

static Py_ssize_t last_token(const unsigned char *raw, Py_ssize_t i) {
    while (i >= 0 && json_space(raw[i])) i--;
    return i;
}

/* jcs._may_hold_long_integer's test of the run of 16 digits after `at`. */
static int may_be_number(const unsigned char *raw, Py_ssize_t at) {
    Py_ssize_t token = last_token(raw, at), key;
    if (token < 0 || raw[token] == '[' || raw[token] == ',') return 1;
    return raw[token] == ':' && (key = last_token(raw, token - 1)) >= 0 && raw[key] == '"';
}

static int surrogate_escape(const unsigned char *raw, Py_ssize_t n, Py_ssize_t i) {
    return i + 3 < n && raw[i + 1] == 'u' && (raw[i + 2] == 'd' || raw[i + 2] == 'D')
           && strchr("89abAB", raw[i + 3]) != NULL && raw[i + 3] != 0;
}

/* Some byte of ASCII `w` is a digit. */
static int has_digit(uint64_t w) {
    return ((w + ONES * (0x80 - '0')) & ~(w + ONES * (0x80 - '9' - 1)) & HIGH) != 0;
}

static PyObject *plain_bytes(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "plain_bytes(raw: bytes)");
        return NULL;
    }
    const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg), i = 0, checked = 0;
    while (i < n) {
        if (i >= checked && i + 8 <= n) { /* most words: ASCII without a digit, a sign or a backslash */
            uint64_t w = load8(raw + i);
            if (!(w & HIGH) && !has_digit(w) && !has_byte(w, '-') && !has_byte(w, '\\')) {
                i += 8;
                continue;
            }
            checked = i + 8; /* this word byte by byte, then words again */
        }
        char kind = PLAIN_CLASS[raw[i]];
        if (kind == '!' || (kind == '\\' && surrogate_escape(raw, n, i))) Py_RETURN_FALSE;
        if (kind != '0') {
            i++;
            continue;
        }
        /* A run of digits (or signs), from its start (a skipped word holds none): a match if
         * 16 long after a ':'-class byte (jcs._LONG_INTEGER). */
        Py_ssize_t start = i;
        while (i < n && PLAIN_CLASS[raw[i]] == '0') i++;
        if (i - start >= 16 && start > 0 && PLAIN_CLASS[raw[start - 1]] == ':' && may_be_number(raw, start - 1))
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* ---- untrusted.json_depth_within, where one pass proves it ---- */

/* 1: a quote; 2: a backslash; 3: an opening, 4: a closing bracket (outside strings). */
static char STRUCTURE[256];

static void init_structure(void) {
    STRUCTURE['"'] = 1;
    STRUCTURE['\\'] = 2;
    STRUCTURE['{'] = STRUCTURE['['] = 3;
    STRUCTURE['}'] = STRUCTURE[']'] = 4;
}

/* True where `raw` is proven to nest at most `max_depth` levels: its strings
 * closed, no backslash outside them, and brackets outside them matched.
 * untrusted.json_depth_within then answers True too (it counts the same
 * brackets); False means only "not proven here", and Python decides. */
static PyObject *depth_proven_within(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char open[256];
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "depth_proven_within(raw: bytes, max_depth: int)");
        return NULL;
    }
    long max_depth = PyLong_AsLong(args[1]);
    if (max_depth == -1 && PyErr_Occurred()) return NULL;
    if (max_depth < 0 || max_depth > (long)sizeof open) Py_RETURN_FALSE;
    const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    long depth = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char kind = STRUCTURE[raw[i]];
        if (kind == 0) continue;
        if (kind == 2) Py_RETURN_FALSE; /* a backslash outside a string */
        if (kind == 3) {
            if (depth == max_depth) Py_RETURN_FALSE;
            open[depth++] = raw[i];
        } else if (kind == 4) {
            if (depth == 0 || open[--depth] != (raw[i] == '}' ? '{' : '[')) Py_RETURN_FALSE;
        } else { /* a string: to its closing quote, each escape's next byte skipped */
            for (i++; i < n && raw[i] != '"'; i++) {
                while (i + 8 <= n && !has_byte(load8(raw + i), '"') && !has_byte(load8(raw + i), '\\')) i += 8;
                if (i < n && raw[i] == '"') break;
                if (i < n && raw[i] == '\\') i++;
            }
            if (i >= n) Py_RETURN_FALSE;
        }
    }
    return PyBool_FromLong(depth == 0);
}

/* ---- The module's functions ---- */

static PyObject *PROOF_VALUE, *CONTEXT, *TYPE, *CRYPTOSUITE, *PURPOSE, *METHOD, *PROOF_TYPE, *SUITE;

static void sha256_of(const Buf *b, unsigned char *digest) {
    SHA256((const unsigned char *)b->p, b->n, digest);
}

/* Py_None for NOT_HANDLED, NULL for FAILED, else `result`. */
static PyObject *outcome(int rc, PyObject *result) {
    if (rc == FAILED) return NULL;
    if (rc == NOT_HANDLED) Py_RETURN_NONE;
    return result;
}

/* SHA-256 of recent proof options by their JCS bytes: documents one key
 * signed at one time share them (eddsa_jcs.OptionsHashes keeps them too). */
#define OPTIONS_KEPT 8
#define OPTIONS_MAX 1024
static struct {
    size_t n;
    char bytes[OPTIONS_MAX];
    unsigned char digest[32];
} options_kept[OPTIONS_KEPT];
static unsigned options_next = 0;

static void options_hash(const Buf *b, unsigned char *digest) {
    for (int i = 0; i < OPTIONS_KEPT; i++) {
        if (options_kept[i].n == b->n && b->n > 0 && memcmp(options_kept[i].bytes, b->p, b->n) == 0) {
            memcpy(digest, options_kept[i].digest, 32);
            return;
        }
    }
    sha256_of(b, digest);
    if (b->n <= OPTIONS_MAX) {
        unsigned slot = options_next++ % OPTIONS_KEPT;
        memcpy(options_kept[slot].bytes, b->p, b->n);
        memcpy(options_kept[slot].digest, digest, 32);
        options_kept[slot].n = b->n;
    }
}

/* Whether `proof[name]` is the exact str `expected` (NOT_HANDLED if not). */
static int member_is(PyObject *proof, PyObject *name, PyObject *expected) {
    PyObject *value = PyDict_GetItemWithError(proof, name);
    if (value == NULL) return PyErr_Occurred() ? FAILED : NOT_HANDLED;
    return PyUnicode_CheckExact(value) && PyUnicode_Compare(value, expected) == 0 ? OK : NOT_HANDLED;
}

/* eddsa_jcs.starts_with for contexts of strings (a list, or one string). */
static int context_extends(PyObject *document, PyObject *signed_) {
    PyObject *const *have, *const *want;
    Py_ssize_t n_have, n_want;
    if (PyList_CheckExact(document)) {
        have = &PyList_GET_ITEM(document, 0);
        n_have = PyList_GET_SIZE(document);
    } else if (PyUnicode_CheckExact(document)) {
        have = &document;
        n_have = 1;
    } else {
        return NOT_HANDLED;
    }
    if (PyList_CheckExact(signed_)) {
        want = &PyList_GET_ITEM(signed_, 0);
        n_want = PyList_GET_SIZE(signed_);
    } else if (PyUnicode_CheckExact(signed_)) {
        want = &signed_;
        n_want = 1;
    } else {
        return NOT_HANDLED;
    }
    if (n_want > n_have) return NOT_HANDLED;
    for (Py_ssize_t i = 0; i < n_want; i++) {
        if (!PyUnicode_CheckExact(have[i]) || !PyUnicode_CheckExact(want[i]) || PyUnicode_Compare(have[i], want[i]) != 0)
            return NOT_HANDLED;
    }
    return OK;
}

static PyObject *prepare_jcs(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char hash_data[64], signature[SIGNATURE_BYTES];
    Buf b;
    int rc;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "prepare_jcs(secured, proof, proof_purpose)");
        return NULL;
    }
    PyObject *secured = args[0], *proof = args[1], *purpose = args[2];
    if (!PyDict_CheckExact(secured) || !PyDict_CheckExact(proof) || !PyUnicode_CheckExact(purpose)) Py_RETURN_NONE;
    /* eddsa_jcs._is_own_proof, but for `created` (which the caller checks). */
    if ((rc = member_is(proof, TYPE, PROOF_TYPE)) != OK || (rc = member_is(proof, CRYPTOSUITE, SUITE)) != OK
        || (rc = member_is(proof, PURPOSE, purpose)) != OK)
        return outcome(rc, NULL);
    PyObject *method = PyDict_GetItemWithError(proof, METHOD);
    if (method == NULL || !PyUnicode_CheckExact(method)) return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *value = PyDict_GetItemWithError(proof, PROOF_VALUE);
    if (value == NULL) return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    if (signature_of(value, signature) != OK) Py_RETURN_NONE;
    PyObject *context = PyDict_GetItemWithError(proof, CONTEXT);
    if (context == NULL && PyErr_Occurred()) return NULL;
    if (context != NULL) {
        /* The document may only extend the signed context list (absent: Python decides). */
        PyObject *own = PyDict_GetItemWithError(secured, CONTEXT);
        if (own == NULL) return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
        if (context_extends(own, context) != OK) Py_RETURN_NONE;
    }
    b_init(&b);
    rc = put_object(&b, proof, 1, "proofValue", NULL, NULL);
    if (rc == OK) {
        options_hash(&b, hash_data);
        b.n = 0;
        rc = put_object(&b, secured, 1, "proof", "@context", context);
        if (rc == OK) sha256_of(&b, hash_data + 32);
    }
    b_free(&b);
    if (rc != OK) return outcome(rc, NULL);
    return Py_BuildValue("(Oy#y#)", method, (const char *)hash_data, (Py_ssize_t)64, (const char *)signature,
                         (Py_ssize_t)SIGNATURE_BYTES);
}

static PyObject *canonical_bytes(PyObject *self, PyObject *value, int digest) {
    unsigned char hash[32];
    Buf b;
    PyObject *result = NULL;
    b_init(&b);
    int rc = put_value(&b, value, 0);
    if (rc == OK) {
        if (digest) {
            sha256_of(&b, hash);
            result = PyBytes_FromStringAndSize((const char *)hash, 32);
        } else {
            result = PyBytes_FromStringAndSize(b.p, (Py_ssize_t)b.n);
        }
    }
    b_free(&b);
    return rc == OK ? result : outcome(rc, NULL);
}

static PyObject *canonical(PyObject *self, PyObject *value) { return canonical_bytes(self, value, 0); }

static PyObject *canonical_sha256(PyObject *self, PyObject *value) { return canonical_bytes(self, value, 1); }

static PyObject *signature_from_multibase(PyObject *self, PyObject *text) {
    unsigned char signature[SIGNATURE_BYTES];
    if (signature_of(text, signature) != OK) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)signature, SIGNATURE_BYTES);
}

typedef int (*VerifyDetached)(const unsigned char *, const unsigned char *, unsigned long long,
                              const unsigned char *);
static VerifyDetached verify_detached = NULL;

static PyObject *bind_ed25519(PyObject *self, PyObject *path) {
    if (!PyUnicode_Check(path)) {
        PyErr_SetString(PyExc_TypeError, "bind_ed25519(path: str)");
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(path);
    if (name == NULL) return NULL;
    /* Already loaded by PyNaCl: this finds it again (and keeps it loaded). */
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    void *function = library == NULL ? NULL : dlsym(library, "crypto_sign_verify_detached");
    if (function == NULL) Py_RETURN_FALSE;
    verify_detached = (VerifyDetached)function;
    Py_RETURN_TRUE;
}

static PyObject *ed25519_verify(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyBytes_Check(args[1]) || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "ed25519_verify(public: bytes, signature: bytes, message: bytes)");
        return NULL;
    }
    if (verify_detached == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind_ed25519 found no crypto_sign_verify_detached");
        return NULL;
    }
    if (PyBytes_GET_SIZE(args[0]) != KEY_BYTES || PyBytes_GET_SIZE(args[1]) != SIGNATURE_BYTES) Py_RETURN_FALSE;
    int rc = verify_detached((const unsigned char *)PyBytes_AS_STRING(args[1]),
                             (const unsigned char *)PyBytes_AS_STRING(args[2]),
                             (unsigned long long)PyBytes_GET_SIZE(args[2]),
                             (const unsigned char *)PyBytes_AS_STRING(args[0]));
    return PyBool_FromLong(rc == 0);
}

static PyMethodDef METHODS[] = {
    {"prepare_jcs", (PyCFunction)(void (*)(void))prepare_jcs, METH_FASTCALL,
     "(verificationMethod, hash_data, signature) of a lone eddsa-jcs-2022 proof of `secured`, or None where Python decides."},
    {"canonical", canonical, METH_O, "The RFC 8785 bytes of a value, or None where Python decides."},
    {"canonical_sha256", canonical_sha256, METH_O, "SHA-256 of the RFC 8785 bytes, or None where Python decides."},
    {"signature_from_multibase", signature_from_multibase, METH_O,
     "multibase_decode(text, size=64), or None where it raises."},
    {"plain_bytes", plain_bytes, METH_O, "jcs._python_plain_bytes(raw), in one pass."},
    {"depth_proven_within", (PyCFunction)(void (*)(void))depth_proven_within, METH_FASTCALL,
     "True where one pass proves untrusted.json_depth_within(raw, max_depth); False: Python decides."},
    {"bind_ed25519", bind_ed25519, METH_O, "Find crypto_sign_verify_detached in this libsodium; whether found."},
    {"ed25519_verify", (PyCFunction)(void (*)(void))ed25519_verify, METH_FASTCALL,
     "Whether `signature` is `public`'s Ed25519 signature of `message`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_jcsproof", NULL, -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__jcsproof(void) {
    init_escapes();
    init_base58();
    init_plain_classes();
    init_structure();
    PROOF_VALUE = PyUnicode_InternFromString("proofValue");
    CONTEXT = PyUnicode_InternFromString("@context");
    TYPE = PyUnicode_InternFromString("type");
    CRYPTOSUITE = PyUnicode_InternFromString("cryptosuite");
    PURPOSE = PyUnicode_InternFromString("proofPurpose");
    METHOD = PyUnicode_InternFromString("verificationMethod");
    PROOF_TYPE = PyUnicode_InternFromString("DataIntegrityProof");
    SUITE = PyUnicode_InternFromString("eddsa-jcs-2022");
    if (!PROOF_VALUE || !CONTEXT || !TYPE || !CRYPTOSUITE || !PURPOSE || !METHOD || !PROOF_TYPE || !SUITE) return NULL;
    return PyModule_Create(&MODULE);
}
