from setuptools import Extension, setup

# A C extension: installing this package compiles fastscore.c, so it needs
# gcc and the Python headers at build time, and neither at run time.
setup(ext_modules=[Extension("fastscore", ["fastscore.c"], libraries=["m"])])
