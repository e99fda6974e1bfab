# Challenge 10-shm-size: one solution. The loader holds 3 x 2 batches of
# 24 MiB = 144 MiB in /dev/shm at once, plus a few pages of the loader's own
# (its semaphores); the next 16 MiB step above the need leaves room for them.
SHM = "160m"
