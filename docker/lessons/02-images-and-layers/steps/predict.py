import six

print("prediction: 0.93", "(six", six.__version__ + ")")
