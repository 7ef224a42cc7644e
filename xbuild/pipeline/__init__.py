"""Each command's steps, in order, and the run record they leave behind."""
