# Allocates until memory runs out; a clean MemoryError exits 3.  Stops
# at 1 GiB without one (exit 4), so that a budget that does not hold
# cannot take the machine's memory.
import sys

held = []
total = 0
try:
    while total < 1 << 30:
        held.append(bytearray(256 * 1024))
        held.append([str(i) for i in range(2000)])
        total += 256 * 1024 + 2000 * 60
except MemoryError:
    n = len(held)
    held = None
    print("MemoryError after", n, "allocations")
    sys.exit(3)
print("no MemoryError after", total >> 20, "MiB")
sys.exit(4)
