/* The optional native base58 encoder (multibase.base58_encode is the reference).
 *
 * Every signed credential's proofValue is a 64-byte signature in base58: the
 * Python encoder costs ~8 us a signature, a tenth of a signing process's CPU
 * per credential under bulk issuance. Here the number is held in limbs of
 * 58**5 (least significant first), the input taken 32 bits at a time, so a
 * signature is ~150 word operations. Same output as the Python encoder for
 * every input: a leading zero byte is a '1', the number's digits follow.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define GROUP 656356768ULL /* 58**5 */
#define GROUP_DIGITS 5

static const char ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* The limbs of the big-endian number in data[0:n], n > 0; returns how many. */
static Py_ssize_t to_limbs(const unsigned char *data, Py_ssize_t n, uint64_t *limbs) {
    Py_ssize_t used = 0, i = 0;
    Py_ssize_t take = n % 4 ? n % 4 : 4; /* the first word holds the odd bytes */
    while (i < n) {
        uint64_t word = 0;
        for (Py_ssize_t k = 0; k < take; k++) {
            word = (word << 8) | data[i + k];
        }
        /* limb < 58**5 < 2**30, carry < 2**33: limb * 2**32 + carry < 2**63. */
        uint64_t shift = 1ULL << (8 * take), carry = word;
        for (Py_ssize_t j = 0; j < used; j++) {
            uint64_t t = limbs[j] * shift + carry;
            limbs[j] = t % GROUP;
            carry = t / GROUP;
        }
        while (carry) {
            limbs[used++] = carry % GROUP;
            carry /= GROUP;
        }
        i += take;
        take = 4;
    }
    return used;
}

static PyObject *b58encode(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const unsigned char *data = view.buf;
    Py_ssize_t zeros = 0;
    while (zeros < view.len && data[zeros] == 0) {
        zeros++;
    }
    Py_ssize_t rest = view.len - zeros;
    /* log(256) / log(58) < 1.3658 digits a byte: rest * 0.276 + 2 limbs suffice. */
    uint64_t *limbs = PyMem_Malloc(sizeof(uint64_t) * (size_t)(rest * 276 / 1000 + 2));
    if (limbs == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_ssize_t used = rest ? to_limbs(data + zeros, rest, limbs) : 0;
    PyBuffer_Release(&view);
    /* The top limb's leading zero digits are padding, not zero bytes. */
    Py_ssize_t padding = 0;
    if (used) {
        uint64_t top = limbs[used - 1], bound = GROUP / 58;
        while (top < bound) {
            padding++;
            bound /= 58;
        }
    }
    Py_ssize_t length = zeros + used * GROUP_DIGITS - padding;
    PyObject *text = PyUnicode_New(length, 127);
    if (text == NULL) {
        PyMem_Free(limbs);
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    memset(out, '1', (size_t)zeros);
    Py_UCS1 *end = out + length;
    for (Py_ssize_t j = 0; j < used; j++) {
        uint64_t limb = limbs[j];
        int digits = j == used - 1 ? GROUP_DIGITS - (int)padding : GROUP_DIGITS;
        for (int d = 0; d < digits; d++) {
            *--end = (Py_UCS1)ALPHABET[limb % 58];
            limb /= 58;
        }
    }
    PyMem_Free(limbs);
    return text;
}

static PyMethodDef methods[] = {
    {"b58encode", b58encode, METH_O, "base58 (bitcoin alphabet) of a bytes-like object, as str."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_base58", NULL, -1, methods};

PyMODINIT_FUNC PyInit__base58(void) { return PyModule_Create(&module); }
