from setuptools import Extension, setup

# A C extension: installing this package compiles fastscore.c, so it needs
# gcc and the Python headers at build time. -fopenmp: the dot product runs on
# OpenMP threads.
setup(ext_modules=[Extension("fastscore", ["fastscore.c"], libraries=["m"],
                             extra_compile_args=["-fopenmp"], extra_link_args=["-fopenmp"])])
