"""deep layer of betavae-sym (see DESIGN.md)."""
