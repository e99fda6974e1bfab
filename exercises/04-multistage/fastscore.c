/* fastscore: a logistic-regression score in C, the app's compiled dependency.
 * The dot product runs on OpenMP threads (setup.py compiles with -fopenmp) when
 * the feature vector is long enough to pay for them. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

static PyObject *score(PyObject *self, PyObject *args)
{
    PyObject *xs, *ws;
    double z;
    if (!PyArg_ParseTuple(args, "OOd", &xs, &ws, &z))
        return NULL;
    PyObject *x = PySequence_Fast(xs, "features must be a sequence");
    PyObject *w = x ? PySequence_Fast(ws, "weights must be a sequence") : NULL;
    if (!w) {
        Py_XDECREF(x);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(x);
    if (n != PySequence_Fast_GET_SIZE(w)) {
        PyErr_SetString(PyExc_ValueError, "features and weights differ in length");
        Py_DECREF(x);
        Py_DECREF(w);
        return NULL;
    }
    /* Python objects are read under the GIL; only plain doubles go to the threads. */
    double *xw = PyMem_Malloc(2 * (n ? n : 1) * sizeof(double));
    if (!xw) {
        Py_DECREF(x);
        Py_DECREF(w);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        xw[2 * i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(x, i));
        xw[2 * i + 1] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(w, i));
    }
    Py_DECREF(x);
    Py_DECREF(w);
    if (PyErr_Occurred()) {
        PyMem_Free(xw);
        return NULL;
    }
    double dot = 0.0;
    #pragma omp parallel for reduction(+:dot) if(n > 100000)
    for (Py_ssize_t i = 0; i < n; i++)
        dot += xw[2 * i] * xw[2 * i + 1];
    PyMem_Free(xw);
    z += dot;
    return PyFloat_FromDouble(1.0 / (1.0 + exp(-z)));
}

static PyMethodDef methods[] = {
    {"score", score, METH_VARARGS, "score(features, weights, bias) -> probability"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastscore", NULL, -1, methods};

PyMODINIT_FUNC PyInit_fastscore(void) { return PyModule_Create(&module); }
