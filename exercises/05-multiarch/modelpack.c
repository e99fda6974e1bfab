/* modelpack: the model's weights ship zlib-compressed (weights.z); this extension
 * inflates them with the system's zlib, so it links libz: a library of the target's. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <zlib.h>

static PyObject *modelpack_inflate(PyObject *self, PyObject *args)
{
    const char *data;
    Py_ssize_t n, cap;
    if (!PyArg_ParseTuple(args, "y#n", &data, &n, &cap))
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
    if (!out)
        return NULL;
    uLongf size = (uLongf)cap;
    int rc = uncompress((Bytef *)PyBytes_AS_STRING(out), &size, (const Bytef *)data, (uLong)n);
    if (rc != Z_OK) {
        Py_DECREF(out);
        return PyErr_Format(PyExc_ValueError, "zlib could not inflate the data (error %d)", rc);
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)size) < 0)
        return NULL;
    return out;
}

static PyObject *linked_zlib(PyObject *self, PyObject *noargs) { return PyUnicode_FromString(zlibVersion()); }

static PyMethodDef methods[] = {
    {"inflate", modelpack_inflate, METH_VARARGS, "inflate(data, max_size) -> the uncompressed bytes"},
    {"linked_zlib", linked_zlib, METH_NOARGS, "the version of the zlib this extension runs with"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "modelpack", NULL, -1, methods};

PyMODINIT_FUNC PyInit_modelpack(void) { return PyModule_Create(&module); }
