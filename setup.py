"""The one thing pyproject.toml cannot declare: the optional C accelerators
of the audit (shared/ledger/transparency/_chunkhash.c), of base58 encoding
(shared/crypto/_base58.c) and of the verifier's eddsa-jcs-2022 proofs
(shared/crypto/_jcsproof.c). `optional=True`: without a compiler or the
OpenSSL headers the install goes on, and copy_rows.py, multibase.py and
eddsa_jcs.py run their pure-Python code instead."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "shared.ledger.transparency._chunkhash",
            ["shared/ledger/transparency/_chunkhash.c"],
            depends=["shared/ledger/transparency/_chunkhash_json.h"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "shared.crypto._base58",
            ["shared/crypto/_base58.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "shared.crypto._jcsproof",
            ["shared/crypto/_jcsproof.c"],
            depends=["shared/crypto/_jcsproof_jcs.h", "shared/crypto/_jcsproof_scan.h"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
