# busy_target.py - the CPU-bound target of the built-in sampler's worker tests: a known call
# chain outer_loop -> middle_layer -> leaf_multiply, forever.
def leaf_multiply(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def middle_layer():
    return leaf_multiply(20000)


def outer_loop():
    while True:
        middle_layer()


outer_loop()
