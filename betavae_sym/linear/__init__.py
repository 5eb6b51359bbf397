"""linear layer of betavae-sym (see DESIGN.md)."""
