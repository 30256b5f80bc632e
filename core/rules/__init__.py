"""Detection rules: YAML files validated into Rule objects, with their tests beside them."""
