"""Physical systems: samplers and exact references (numpy/scipy)."""
