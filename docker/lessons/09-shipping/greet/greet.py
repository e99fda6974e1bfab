"""The smallest app worth shipping: it says which build it is."""

print("greet: first build")
