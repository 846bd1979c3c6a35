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
 * plain_bytes() and depth_proven_within() (_jcsproof_scan.h; the JCS writer
 * is _jcsproof_jcs.h) are the one-pass forms of
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
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "_jcsproof_jcs.h" /* the JCS writer, and the body checks (_jcsproof_scan.h) */

#define SIGNATURE_BYTES 64
#define KEY_BYTES 32
/* ceil(64 * log(256) / log(58)): multibase.multibase_decode's length bound. */
#define MAX_SIGNATURE_DIGITS 88

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
