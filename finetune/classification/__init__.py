"""Classification and regression tasks (GLUE)."""
