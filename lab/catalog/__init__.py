"""The course: every experiment as a preset, with the course's own figures and lessons."""
