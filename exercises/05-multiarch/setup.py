from setuptools import Extension, setup

# Two C extensions: installing this package compiles them, so it needs gcc, the
# Python headers and zlib's headers at build time, and only zlib itself at run time.
setup(
    ext_modules=[
        Extension("fastscore", ["fastscore.c"], libraries=["m"]),
        Extension("modelpack", ["modelpack.c"], libraries=["z"]),
    ]
)
