"""The one thing pyproject.toml cannot declare: the optional C accelerator of
the audit (shared/ledger/transparency/_chunkhash.c). `optional=True`: without
a compiler or the OpenSSL headers the install goes on, and copy_rows.py runs
its pure-Python reader instead."""

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
        )
    ]
)
