"""The Runs page's own parts: the class's table, its filters, the runs compared, and the teacher's delete."""
