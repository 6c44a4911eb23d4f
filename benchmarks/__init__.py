"""Scale benchmark: a generated organisation of realistic size, and the `dora` commands timed on it."""
